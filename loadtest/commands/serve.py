"""``headroom serve``: validations on request over HTTP, for Flagger webhooks and Argo Rollouts' web metric."""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import threading

from rich.text import Text

from infra.config import load_stack
from infra.errors import ConfigError

from ..console import out
from ._flags import http_url, ip_address, port_or_free
from ._serve_http import FLAGGER_HOOKS, ServeSettings, make_server
from ._serve_runs import Runs

MIN_TOKEN_LENGTH = 16

HELP = "serve validations over HTTP: Flagger webhooks, an Argo Rollouts web metric, /metrics"
DESCRIPTION = f"""\
Run validations of the stack on request, one at a time (409 while one runs), and answer
with their verdicts:

  POST /flagger/HOOK               a Flagger webhook, HOOK one of {', '.join(FLAGGER_HOOKS)}
                                   (payload: name, namespace, phase, metadata with url,
                                   users, runTime, profile ...)
  POST /runs                       run now; the run's JSON (verdict, criteria, counts)
  GET  /runs/latest, /runs/ID      a finished run's JSON, for an Argo Rollouts web metric
  DELETE /runs/ID                  cancel the running validation ID (its processes stopped)
  GET  /metrics                    the latest verdict as OpenMetrics
  GET  /healthz                    200, no token needed

Every route but /healthz needs the bearer token held by the environment variable
--token-env names (default: headroom:pipeline.serve.tokenEnv, HEADROOM_TOKEN); Flagger,
which sends no headers, may pass it as metadata.token. Without the variable serve refuses
to start, unless --no-auth on a loopback address. A POST must be sent as
Content-Type: application/json; a request with a foreign Origin is refused, and on a
loopback address so is a Host that is not a loopback name (no web page can drive serve).

Each validation is `headroom validate` in a child process with its reports in
.headroom/serve/STACK/RUN/; Ctrl-C or SIGTERM stops it (and Locust, and the local stack)
before serve exits. Which verdict each hook answers with: docs/pipelines.md.
"""
EXAMPLES = """\
examples:
  HEADROOM_TOKEN=$(openssl rand -hex 24) headroom serve --stack prod --bind 0.0.0.0 --port 8787
  headroom serve --stack local --no-auth
  curl -H "Authorization: Bearer $HEADROOM_TOKEN" -H 'Content-Type: application/json' \\
       -d '{"users": 50, "runTime": "60s"}' http://127.0.0.1:8787/runs
  curl -X DELETE -H "Authorization: Bearer $HEADROOM_TOKEN" http://127.0.0.1:8787/runs/RUN_ID

exit codes: 0 stopped cleanly, 2 bad flags or configuration (for example no token), 130 Ctrl-C, 143 SIGTERM
"""


def _env_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an environment variable name")
    return text


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "serve", parents=[parent], help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bind", type=ip_address, metavar="ADDR", help="address to listen on (default: headroom:pipeline.serve.bind, 127.0.0.1)")
    parser.add_argument("--port", type=port_or_free, metavar="PORT", help="port (default: headroom:pipeline.serve.port, 8787; 0 picks a free one)")
    parser.add_argument("--token-env", type=_env_name, metavar="NAME",
                        help="environment variable holding the bearer token (default: headroom:pipeline.serve.tokenEnv)")
    parser.add_argument("--no-auth", action="store_true", help="accept requests without a token: only on a loopback address")
    parser.add_argument("--host", type=http_url, metavar="URL",
                        help="the URL a request that names none loads (default: as `validate`: the local stack, or the deployed one)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    stack = load_stack(args.stack, args.project_dir)
    serve = stack.config.pipeline.serve
    bind = args.bind or serve.bind
    port = serve.port if args.port is None else args.port
    token_env = args.token_env or serve.token_env
    token = _token(token_env, bind, args.no_auth)
    runs = Runs(stack.path, args.host, hidden_env=(token_env,))
    try:
        server = make_server((bind, port), runs, ServeSettings(token, stack.name, bind))
    except OSError as error:
        raise ConfigError(f"cannot listen on {bind}:{port}: {error.strerror}") from None
    host, bound_port = server.server_address[:2]
    host_text = host.decode() if isinstance(host, bytes) else str(host)
    shown = f"[{host_text}]" if ":" in host_text else host_text
    auth = "no authentication (--no-auth)" if token is None else f"bearer token from ${token_env}"
    out.print(Text(f"headroom serve: stack {stack.name} on http://{shown}:{bound_port} ({auth}); Ctrl-C stops"), highlight=False)
    out.file.flush()
    accepting = threading.Thread(target=server.serve_forever, name="serve-accept", daemon=True)
    accepting.start()
    try:
        # Ctrl-C and SIGTERM (cli.Terminated) are raised here, in a wait that holds nothing. Raised in the
        # accept loop instead, one could land while a connection was being handed to its thread, and the
        # loop would close that connection under the thread (a ValueError) and, once, not stop at all.
        while accepting.is_alive():
            accepting.join(0.5)
    except KeyboardInterrupt as interrupt:
        server.shutdown()  # the accept loop ends at its next poll; requests being answered are abandoned
        stopped = runs.stop()
        server.server_close()
        said = "stopped the validation in progress and its processes" if stopped else "no validation was running"
        raise type(interrupt)(said) from None
    raise RuntimeError("serve's accept loop stopped without being asked to")  # a bug: exit 4 with its traceback file


def _token(name: str, bind: str, no_auth: bool) -> str | None:
    """The bearer token, or None with --no-auth (loopback only); exit 2 for anything else."""
    loopback = ipaddress.ip_address(bind).is_loopback
    if no_auth:
        if not loopback:
            raise ConfigError(f"--no-auth is allowed only on a loopback address, not on {bind}: anyone who reaches "
                              "the port could make this machine send load anywhere; set a token instead")
        return None
    token = os.environ.get(name, "")
    if not token:
        raise ConfigError(f"${name} is not set: headroom serve requires a bearer token in it (for example "
                          f"`export {name}=$(openssl rand -hex 24)`), or --no-auth on a loopback address")
    if len(token) < MIN_TOKEN_LENGTH or token != token.strip():
        raise ConfigError(f"${name} holds a token of {len(token)} characters; use at least {MIN_TOKEN_LENGTH}, "
                          "without surrounding spaces")
    return token
