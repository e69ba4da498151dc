"""A small orders API for the scenario tests: a service that is not the reference.

    POST /orders          {"sku": "A1", "quantity": 2} -> 201 {"id": "...", "sku", "quantity", "status": "created"}
    GET  /orders/{id}     200 the order, 404 if there is none
    GET  /health          200 {"status": "ok"} (never needs the token)

With ``--token T`` every /orders request needs ``Authorization: Bearer T`` (else 401).
``--seed N`` creates orders 1..N at start, so a scenario can read ids from a range.
``--get-delay-ms D`` makes every GET /orders/{id} take D ms more: the endpoint
whose per-endpoint SLO a test misses while the global one holds.

Run: python tests/services/orders.py --port 0 [--token T] [--seed N] [--get-delay-ms D];
it prints ``listening on http://127.0.0.1:PORT`` once it serves.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import socket
import sys
from typing import Any

from aiohttp import web


def make_app(token: str | None, seed: int, get_delay_ms: float) -> web.Application:
    orders: dict[str, dict[str, Any]] = {}
    ids = itertools.count(seed + 1)
    for number in range(1, seed + 1):
        orders[str(number)] = {"id": str(number), "sku": "SEED", "quantity": 1, "status": "created"}

    def authorized(request: web.Request) -> bool:
        return token is None or request.headers.get("Authorization") == f"Bearer {token}"

    async def create(request: web.Request) -> web.Response:
        if not authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("sku"), str) or not isinstance(body.get("quantity"), int):
            return web.json_response({"error": "need sku (string) and quantity (integer)"}, status=422)
        order = {"id": str(next(ids)), "sku": body["sku"], "quantity": body["quantity"], "status": "created"}
        orders[order["id"]] = order
        return web.json_response(order, status=201)

    async def read(request: web.Request) -> web.Response:
        if not authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        if get_delay_ms:
            await asyncio.sleep(get_delay_ms / 1000)
        order = orders.get(request.match_info["id"])
        if order is None:
            return web.json_response({"error": "no such order"}, status=404)
        return web.json_response(order)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.add_routes([web.post("/orders", create), web.get("/orders/{id}", read), web.get("/health", health)])
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--get-delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    sock = socket.socket()
    sock.bind(("127.0.0.1", args.port))
    port = sock.getsockname()[1]
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    web.run_app(make_app(args.token, args.seed, args.get_delay_ms), sock=sock, print=None, handle_signals=True)


if __name__ == "__main__":
    sys.exit(main())
