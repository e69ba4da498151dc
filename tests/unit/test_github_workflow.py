"""examples/github-actions/post-deploy.yml: a valid workflow whose headroom command is one headroom accepts.

actionlint is not installable here (tests/data/README.md says why), so the workflow is
checked against SchemaStore's GitHub workflow schema, its shell steps by bash's own
parser (``bash -n``), and its ``headroom validate`` line by headroom's own argument parser.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML

from infra.config import REPO_ROOT
from loadtest.cli import build_parser

WORKFLOW = REPO_ROOT / "examples" / "github-actions" / "post-deploy.yml"
SCHEMA = Path(__file__).resolve().parents[1] / "data" / "github-workflow.schema.json"


def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load(WORKFLOW.read_text())  # YAML 1.2: `on` stays a string
    return loaded


def steps() -> list[dict[str, Any]]:
    return [step for job in workflow()["jobs"].values() for step in job["steps"]]


def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))


def test_the_workflow_matches_githubs_schema() -> None:
    validator().validate(workflow())


def test_the_schema_catches_a_mistake() -> None:
    broken = workflow()
    broken["jobs"]["validate"]["runs_on"] = broken["jobs"]["validate"].pop("runs-on")
    assert not validator().is_valid(broken)


def test_every_shell_step_parses() -> None:
    bash = shutil.which("bash")
    assert bash, "bash is needed to check the run steps"
    for step in steps():
        if "run" in step:
            result = subprocess.run([bash, "-n", "-c", step["run"]], capture_output=True, text=True, check=False)
            assert result.returncode == 0, (step.get("name"), result.stderr)


def test_no_expression_is_interpolated_into_a_script() -> None:
    """Event data reaches scripts as environment variables only (GitHub's advice against script injection)."""
    for step in steps():
        assert "${{" not in step.get("run", ""), step.get("name")


def test_the_validate_command_is_one_headroom_accepts() -> None:
    script = next(step["run"] for step in steps() if "headroom validate" in step.get("run", ""))
    line = re.search(r"headroom validate .*?(?<!\\)$", script.replace("\\\n", " "), re.MULTILINE | re.DOTALL)
    assert line is not None
    argv = shlex.split(line.group(0).replace('"$STACK"', "prod").replace('"$TARGET_URL"', "https://api.example.com"))[1:]
    args = build_parser(argv).parse_args(argv)
    assert (args.command, args.stack, args.host) == ("validate", "prod", "https://api.example.com")
    assert all(getattr(args, key) is not None for key in ("json", "junit", "html", "markdown", "diff_out"))
    upload = next(step for step in steps() if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "out/" and str(args.junit).startswith("out/") and str(args.html).startswith("out/")


def test_permissions_are_the_least_it_needs() -> None:
    """Read the code, write a comment: nothing else (the token of a deploy-triggered run acts on the repository)."""
    assert workflow()["permissions"] == {"contents": "read", "pull-requests": "write"}
