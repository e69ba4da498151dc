"""A target that stalls: it answers nothing for STALL seconds of every PERIOD, and in SERVICE_MS otherwise.

The coordinated-omission demonstration's service (bench/coordinated_omission.py) and the
open model's integration test use it. A request that arrives during a stall is held until
the stall ends, then served, so the true latency of a request arriving at phase p of the
period is max(0, STALL - p) + SERVICE_MS: with arrivals spread evenly over the period, the
true p95 is STALL - 0.05 * PERIOD + SERVICE_MS (``true_percentile``). Phase 0 is the moment
the server starts, which it prints (epoch seconds) after its port, one per line.

    python bench/stall_target.py [--stall 2] [--period 10] [--service-ms 40] [--port 0]

One thread per connection (the standard library's ThreadingHTTPServer): it holds any number
of stalled requests, as a stalled service with a deep queue would.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import time


def true_percentile(stall_s: float, period_s: float, service_ms: float, percentile: float) -> float:
    """The latency (ms) below which ``percentile`` % of evenly spread arrivals are answered."""
    tail = 1 - percentile / 100
    held_s = max(0.0, stall_s - tail * period_s)
    return held_s * 1000 + service_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stall", type=float, default=2.0)
    parser.add_argument("--period", type=float, default=10.0)
    parser.add_argument("--service-ms", type=float, default=40.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    started = time.time()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            phase = (time.time() - started) % args.period
            if phase < args.stall:
                time.sleep(args.stall - phase)
            time.sleep(args.service_ms / 1000)
            body = b'{"status": "healthy"}'
            # The client may have given up (a request cut off at the end of a run).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def do_GET(self) -> None:
            self.answer()

        def do_POST(self) -> None:
            self.answer()

        def log_message(self, format: str, *values: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    print(f"{started:.6f}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
