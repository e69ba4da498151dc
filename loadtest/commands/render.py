"""``headroom render``: write nginx.conf, the Kubernetes manifests and the ASG policy."""

from __future__ import annotations

import argparse
from pathlib import Path

from infra.config import load_stack
from infra.render import render_all, write_artifacts

from ..console import out
from ._flags import check_output_dir

HELP = "render nginx.conf, the Kubernetes manifests and the ASG policy from a stack"
DESCRIPTION = """\
Render every artifact of a stack through the Jinja templates in templates/:
  nginx.conf       the load balancer (least_conn by default), runnable as is
  deployment.yaml  the Deployment, with CPU requests and no spec.replicas
  service.yaml     the Service in front of it
  hpa.yaml         the autoscaling/v2 HorizontalPodAutoscaler, behavior written out
  pdb.yaml, networkpolicy.yaml   the app's PodDisruptionBudget and NetworkPolicy (when enabled)
  nginx-*.yaml     the load balancer: ConfigMap, Deployment, Service, PDB, NetworkPolicy
  asg-policy.json  the input of AutoScaling PutScalingPolicy (target tracking on CPU)

The config is validated first; on any problem nothing is written and the exit code is 2.
"""
EXAMPLES = """\
examples:
  headroom render --stack dev --out out/dev
  headroom render --stack ./Pulumi.staging.yaml --out /tmp/staging && nginx -t -c /tmp/staging/nginx.conf
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "render", parents=[parent], help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="directory to write into (created if missing)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path, config = load_stack(args.stack, args.project_dir)
    check_output_dir(args.out, "--out")
    artifacts = render_all(config)  # everything renders before anything is written
    for written in write_artifacts(artifacts, args.out):
        out.print(f"wrote {written}")
    out.print(f"rendered {len(artifacts)} artifacts from {path}")
    return 0
