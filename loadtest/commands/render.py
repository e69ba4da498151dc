"""``headroom render``: write nginx.conf, the Kubernetes manifests and the ASG policy."""

from __future__ import annotations

import argparse
from pathlib import Path

from infra.config import load_stack
from infra.files import write_atomically
from infra.pipelines import PIPELINES_DIR, render_pipelines
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

With --pipelines, also (in DIR/pipelines/, custom resources that need their CRDs):
  argo-analysistemplate-web.yaml  an Argo Rollouts AnalysisTemplate calling `headroom serve`
  argo-analysistemplate-job.yaml  the same as a Job running `headroom validate`
  flagger-canary.yaml             a Flagger Canary whose analysis calls `headroom serve`

The config is validated first; on any problem nothing is written and the exit code is 2.
"""
EXAMPLES = """\
examples:
  headroom render --stack dev --out out/dev
  headroom render --stack ./Pulumi.staging.yaml --out /tmp/staging && nginx -t -c /tmp/staging/nginx.conf
  headroom render --stack prod --out out/prod --pipelines
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "render", parents=[parent], help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="directory to write into (created if missing)")
    parser.add_argument("--pipelines", action="store_true",
                        help="also write the Argo Rollouts AnalysisTemplates and the Flagger Canary into DIR/pipelines/ (docs/pipelines.md)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    stack = load_stack(args.stack, args.project_dir)
    path, config = stack
    check_output_dir(args.out, "--out")
    artifacts = render_all(config)  # everything renders before anything is written
    pipelines = render_pipelines(config, stack.name) if args.pipelines else {}
    for written in write_artifacts(artifacts, args.out):
        out.print(f"wrote {written}")
    for name, text in pipelines.items():
        target = args.out / PIPELINES_DIR / name
        write_atomically(target, text)
        out.print(f"wrote {target}")
    out.print(f"rendered {len(artifacts) + len(pipelines)} artifacts from {path}")
    return 0
