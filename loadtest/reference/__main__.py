"""Run one replica: ``python -m loadtest.reference --port 0 --behaviour '{"workers": 8}'``."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields

import uvloop

from .behaviour import ServiceBehaviour
from .exposition import PodIdentity
from .server import serve


def main() -> None:
    defaults = {f.name: getattr(ServiceBehaviour(), f.name) for f in fields(ServiceBehaviour) if f.init}
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.reference",
        description="One replica of headroom's reference service. Prints 'READY <port>' once listening.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--behaviour", default="{}", help=f"JSON of ServiceBehaviour fields; defaults: {json.dumps(defaults)}")
    parser.add_argument("--identity", default="{}",
                        help="JSON of PodIdentity fields: the namespace/pod/container labels and requests /metrics reports")
    args = parser.parse_args()
    behaviour = ServiceBehaviour(**json.loads(args.behaviour))
    uvloop.run(serve(behaviour, args.host, args.port, PodIdentity(**json.loads(args.identity))))


if __name__ == "__main__":
    main()
