"""The HTTP API of ``headroom serve``: Flagger webhooks, Argo Rollouts' web metric, /metrics, /healthz.

Why the standard library's ``ThreadingHTTPServer``: the work behind a request is a
blocking validation in a child process, one at a time, so what the server needs is a
thread per connection (a second request must get its 409 while the first waits) and
nothing else; it adds no dependency and no event loop to reason about at shutdown.
aiohttp (already installed for Locust) would have to push the same blocking call
into an executor.

Routes (docs/pipelines.md, docs/cli.md):

    GET  /healthz                      200, no token needed
    GET  /metrics                      OpenMetrics of the latest finished run
    GET  /runs                         every remembered run, newest last
    GET  /runs/latest, /runs/<id>      one run's JSON: verdict, criteria, counts
    POST /runs                         run a validation now (JSON body: overrides); its JSON, 200 whatever the verdict
    DELETE /runs/<id>                  cancel the running validation <id>: stopped as Ctrl-C stops one
    POST /flagger/<hook>               a Flagger webhook: pre-rollout, rollout, confirm-promotion

Every route but /healthz needs ``Authorization: Bearer <token>``. Flagger cannot send
headers (its webhook client sets only Content-Type), so its payload may carry the
token as ``metadata.token`` instead, as Flagger's own documentation shows. Before any
of that, ``_serve_guard`` checks the Host, Origin and Content-Type headers and bounds
the connections and the body's nesting.
"""

from __future__ import annotations

import hmac
import json
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rich.text import Text

from ..console import err
from ..formats import render_openmetrics
from ._serve_guard import BoundedServer, content_type_refusal, host_refusal, origin_refusal, printable, too_deep
from ._serve_runs import BadRequestError, BusyError, RunFailedError, RunRecord, Runs, RunSpec, parse_overrides

MAX_BODY_BYTES = 64 * 1024
READ_TIMEOUT_S = 30.0
"""A client gets this long to send its request; the answer may take the whole validation."""
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_RUN_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{6}|latest")

FLAGGER_HOOKS = ("pre-rollout", "rollout", "confirm-promotion")
FAILED_CHECK = HTTPStatus.PRECONDITION_FAILED
"""What a hook answers when the rollout must not advance: any status above 202 is a failed check to Flagger."""


def flagger_status(hook: str, verdict: str) -> HTTPStatus:
    """The status a Flagger hook answers for a verdict (docs/pipelines.md has the table).

    pre-rollout and rollout: only FAIL stops the canary (a failed check; past the
    threshold, a rollback). INCONCLUSIVE says nothing against the canary, so it must not
    count towards a rollback. confirm-promotion: promotion needs a PASS; anything else
    holds it (Flagger keeps the canary, keeps analysing and asks again), without a rollback.
    """
    if verdict == "PASS":
        return HTTPStatus.OK
    if verdict == "INCONCLUSIVE" and hook != "confirm-promotion":
        return HTTPStatus.OK
    return FAILED_CHECK


@dataclass(frozen=True)
class ServeSettings:
    token: str | None
    """None: no authentication (--no-auth, loopback only)."""
    stack_name: str
    bind: str = "127.0.0.1"
    """The address serve listens on: on a loopback one, only loopback names are accepted as Host."""


class _Reply(Exception):  # noqa: N818 - an answer, raised to end a handler early
    def __init__(self, status: HTTPStatus, body: Any, content_type: str = "application/json") -> None:
        super().__init__(status.phrase)
        self.status, self.body, self.content_type = status, body, content_type


def make_server(address: tuple[str, int], runs: Runs, settings: ServeSettings) -> ThreadingHTTPServer:
    return BoundedServer(address, _handler_class(runs, settings))


def _handler_class(runs: Runs, settings: ServeSettings) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "headroom-serve"
        sys_version = ""
        timeout = READ_TIMEOUT_S

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def _dispatch(self, method: str) -> None:
            try:
                self._guard(method)
                route, allowed = _route(self.path.split("?", 1)[0], method)
                if route is None:
                    raise _Reply(HTTPStatus.METHOD_NOT_ALLOWED if allowed else HTTPStatus.NOT_FOUND,
                                 {"error": f"{method} {self.path}: " + (f"allowed: {', '.join(allowed)}" if allowed else "no such route")})
                getattr(self, route)()
            except _Reply as reply:
                self._send(reply.status, reply.body, reply.content_type)
            except BrokenPipeError:
                pass  # the caller gave up (a webhook timeout); the run is recorded all the same
            except (TimeoutError, ConnectionError) as error:
                # A client that stopped sending its body, or went away: one line, no answer to give.
                self.close_connection = True
                self.log_message("%s %s: %s", method, self.path, type(error).__name__)
            except Exception as error:  # noqa: BLE001 - a bug in serve answers 500 and is logged; serve goes on
                err.print(Text(f"serve: {method} {printable(self.path)} failed:\n{traceback.format_exc()}"), highlight=False)
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"headroom serve failed: {type(error).__name__}: {error}"})

        # -- plumbing ---------------------------------------------------------------------------
        def _guard(self, method: str) -> None:
            """DNS rebinding and cross-site requests are refused before anything else (``_serve_guard``)."""
            host = self.headers.get("Host")
            address = self.server.server_address
            port = int(address[1]) if isinstance(address, tuple) else 0
            refusal = host_refusal(host, settings.bind, port) or origin_refusal(self.headers.get("Origin"), host)
            if refusal is not None:
                raise _Reply(HTTPStatus.FORBIDDEN, {"error": refusal})
            if method == "POST" and (refusal := content_type_refusal(self.headers.get("Content-Type"))) is not None:
                raise _Reply(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": refusal})

        def _send(self, status: HTTPStatus, body: Any, content_type: str = "application/json") -> None:
            data = (json.dumps(body, indent=2) + "\n" if content_type == "application/json" else str(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            if status == HTTPStatus.UNAUTHORIZED:
                self.send_header("WWW-Authenticate", 'Bearer realm="headroom"')
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length_text = self.headers.get("Content-Length")
            if length_text is None or not length_text.isdigit():
                raise _Reply(HTTPStatus.LENGTH_REQUIRED, {"error": "a JSON body with a Content-Length is required"})
            length = int(length_text)
            if length > MAX_BODY_BYTES:
                raise _Reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"the body is larger than {MAX_BODY_BYTES} bytes"})
            raw = self.rfile.read(length) if length else b"{}"
            if too_deep(raw):
                raise _Reply(HTTPStatus.BAD_REQUEST, {"error": "the body nests objects or arrays too deeply"})
            try:
                body = json.loads(raw or b"{}")
            except (ValueError, UnicodeDecodeError) as error:
                raise _Reply(HTTPStatus.BAD_REQUEST, {"error": f"the body is not JSON: {error}"}) from None
            if not isinstance(body, dict):
                raise _Reply(HTTPStatus.BAD_REQUEST, {"error": "the body must be a JSON object"})
            return body

        def _authorized(self, fallback: object = None) -> None:
            """The bearer token from the header, or (Flagger) ``fallback``; 401 otherwise."""
            if settings.token is None:
                return
            header = self.headers.get("Authorization", "")
            offered = header[len("Bearer "):] if header.startswith("Bearer ") else None
            if offered is None and isinstance(fallback, str):
                offered = fallback
            if offered is None or not hmac.compare_digest(offered.encode(), settings.token.encode()):
                raise _Reply(HTTPStatus.UNAUTHORIZED, {"error": "a valid bearer token is required (Authorization: Bearer <token>)"})

        def log_message(self, format: str, *args: Any) -> None:
            err.print(Text(f"serve: {self.client_address[0]} {printable(format % args)}"), highlight=False)

        # -- routes -----------------------------------------------------------------------------
        def healthz(self) -> None:
            raise _Reply(HTTPStatus.OK, "ok\n", "text/plain; charset=utf-8")

        def metrics(self) -> None:
            self._authorized()
            latest = runs.get("latest")
            text = render_openmetrics(latest.report) if latest is not None and latest.report is not None else "# EOF\n"
            raise _Reply(HTTPStatus.OK, text, OPENMETRICS_TYPE)

        def list_runs(self) -> None:
            self._authorized()
            raise _Reply(HTTPStatus.OK, {"runs": [run.document(settings.stack_name) for run in runs.all()]})

        def one_run(self) -> None:
            self._authorized()
            run_id = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            run = runs.get(run_id) if _RUN_ID.fullmatch(run_id) else None
            if run is None:
                what = "no run has finished yet" if run_id == "latest" else f"no run {run_id!r}"
                raise _Reply(HTTPStatus.NOT_FOUND, {"error": what})
            raise _Reply(HTTPStatus.OK, run.document(settings.stack_name))

        def cancel_run(self) -> None:
            self._authorized()
            run_id = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            run = runs.get(run_id) if _RUN_ID.fullmatch(run_id) and run_id != "latest" else None
            if run is None:
                raise _Reply(HTTPStatus.NOT_FOUND, {"error": f"no run {printable(run_id)!r}"})
            if not runs.cancel(run):
                raise _Reply(HTTPStatus.CONFLICT, {"error": f"run {run.id} is not running (it is {run.state})"})
            raise _Reply(HTTPStatus.OK, run.document(settings.stack_name))

        def post_run(self) -> None:
            self._authorized()
            spec = _parse(lambda: parse_overrides(self._body(), "body", "POST /runs"))
            record = _execute(runs, spec)
            raise _Reply(HTTPStatus.OK, record.document(settings.stack_name))

        def flagger(self) -> None:
            hook = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            if "Authorization" in self.headers:
                self._authorized()  # the header's token is checked before the body is read
            body = self._body()
            metadata = body.get("metadata") or {}
            self._authorized(metadata.get("token") if isinstance(metadata, dict) else None)
            spec = _parse(lambda: _flagger_spec(hook, body))
            record = _execute(runs, spec)
            assert record.report is not None, "a finished run has its report"
            document = record.document(settings.stack_name)  # the SLO's verdict with the comparison's, if any
            verdict = str(document["verdict"])
            status = flagger_status(hook, verdict)
            effect = "the canary may advance" if status == HTTPStatus.OK else (
                "promotion waits" if hook == "confirm-promotion" else "a failed check")
            reasons = "; ".join(document["reasons"]) or "every criterion held"
            text = f"headroom {verdict} ({effect}): {reasons} [run {record.id}]\n"
            raise _Reply(status, text, "text/plain; charset=utf-8")

    return Handler


_ROUTES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"/healthz"), "GET", "healthz"),
    (re.compile(r"/metrics"), "GET", "metrics"),
    (re.compile(r"/runs/?"), "GET", "list_runs"),
    (re.compile(r"/runs/?"), "POST", "post_run"),
    (re.compile(r"/runs/[^/]+/?"), "GET", "one_run"),
    (re.compile(r"/runs/[^/]+/?"), "DELETE", "cancel_run"),
    (re.compile(r"/flagger/(?:" + "|".join(FLAGGER_HOOKS) + r")/?"), "POST", "flagger"),
]


def _route(path: str, method: str) -> tuple[str | None, list[str]]:
    """The handler method's name for the route, and the methods the path allows."""
    allowed = []
    for pattern, route_method, name in _ROUTES:
        if pattern.fullmatch(path):
            if route_method == method:
                return name, [method]
            allowed.append(route_method)
    return None, allowed


def _parse(make: Callable[[], RunSpec]) -> RunSpec:
    try:
        return make()
    except BadRequestError as error:
        raise _Reply(HTTPStatus.BAD_REQUEST, {"error": str(error)}) from None


def _flagger_spec(hook: str, body: dict[str, Any]) -> RunSpec:
    """Flagger's payload (name, namespace, phase, checksum, metadata), checked; the overrides in its metadata."""
    for key in ("name", "namespace", "phase"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise BadRequestError(f"Flagger payload: {key!r} must be a non-empty string (got {body.get(key)!r})")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(isinstance(value, str) for value in metadata.values()):
        raise BadRequestError("Flagger payload: 'metadata' must map names to strings")
    return parse_overrides(metadata, "metadata", f"flagger {hook} {body['namespace']}/{body['name']}", ignore=("token",))


def _execute(runs: Runs, spec: RunSpec) -> RunRecord:
    try:
        return runs.run(spec)
    except BadRequestError as error:
        raise _Reply(HTTPStatus.BAD_REQUEST, {"error": str(error)}) from None
    except BusyError as error:
        raise _Reply(HTTPStatus.CONFLICT, {"error": str(error), "running": error.running.id if error.running else None}) from None
    except RunFailedError as error:
        status = HTTPStatus.SERVICE_UNAVAILABLE if error.stopped else HTTPStatus.INTERNAL_SERVER_ERROR
        raise _Reply(status, {"error": str(error)}) from None
