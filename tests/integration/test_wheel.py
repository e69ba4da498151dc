"""headroom installed from a wheel, not from the checkout: everything it loads ships, and it works from any directory.

The wheel is built from a copy of the sources (no build/ left in the checkout, none reused)
and installed with ``--no-deps --no-index`` into a fresh virtual environment. That
environment reuses the dependencies already installed in this one through a ``.pth``
file, so nothing is downloaded; that directory's own ``.pth`` files (the editable install
of the checkout) are not processed, so ``infra`` and ``loadtest`` come from the wheel.
Every command runs with its working directory in an empty temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import SESSION_MARK
from nginx_versions import parseable_by

from infra.config import REPO_ROOT, load_stack
from infra.render import render_all
from loadtest.formats import render_html
from loadtest.report import load_report

pytestmark = pytest.mark.slow

SOURCES = ("pyproject.toml", "README.md", "infra", "loadtest", "templates")
STACKS = ("dev", "local")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path
    stacks: Path
    """A directory holding copies of the shipped stack files and no Pulumi.yaml."""

    def run(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": f"{self.bin}:/usr/sbin:/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8",
               SESSION_MARK: os.environ[SESSION_MARK]}
        return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    for name in SOURCES:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(REPO_ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(root / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = (root / "dist").glob("headroom-*.whl")

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    # After the install, so pip saw a clean environment; the dependencies come after the wheel on sys.path.
    dependencies = dict.fromkeys(sysconfig.get_paths()[kind] for kind in ("purelib", "platlib"))
    (Path(site) / "headroom_test_dependencies.pth").write_text("".join(f"{path}\n" for path in dependencies))

    stacks = root / "stacks"
    stacks.mkdir()
    for stack in STACKS:
        shutil.copy2(REPO_ROOT / f"Pulumi.{stack}.yaml", stacks / f"Pulumi.{stack}.yaml")
    return Installed(wheel, venv / "bin", stacks)


def test_wheel_ships_every_module_and_template(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    expected = {p.relative_to(REPO_ROOT).as_posix() for package in ("infra", "loadtest") for p in (REPO_ROOT / package).rglob("*")
                if p.suffix in (".py", ".j2") and "__pycache__" not in p.parts}
    expected |= {f"infra/templates/{p.name}" for p in (REPO_ROOT / "templates").iterdir() if p.suffix in (".py", ".j2")}
    assert expected - names == set(), "in the checkout but not in the wheel (add the package to pyproject.toml)"
    assert {"infra/templates/nginx.conf.j2", "loadtest/formats/report.html.j2", "loadtest/locustfile.py"} <= names


def test_installed_headroom_imports_from_the_wheel(installed: Installed, tmp_path: Path) -> None:
    probe = "import infra, infra.templates, loadtest; print(infra.__file__); print(infra.templates.__file__); print(loadtest.__file__)"
    result = installed.run(tmp_path, "python", "-c", probe)
    assert result.returncode == 0, result.stderr
    for path in result.stdout.split():
        assert Path(path).is_relative_to(installed.bin.parent), path


@pytest.mark.nginx
def test_installed_render_from_another_directory(installed: Installed, tmp_path: Path, nginx_binary: str) -> None:
    stack = installed.stacks / "Pulumi.dev.yaml"
    result = installed.run(tmp_path, "headroom", "render", "--stack", str(stack), "--out", "out")
    assert result.returncode == 0, result.stderr
    _, config = load_stack(str(stack))
    # The same bytes as the checkout renders, from the wheel's own copy of the templates.
    written = {path.name: path.read_text() for path in (tmp_path / "out").iterdir()}
    assert written == render_all(config)
    conf = tmp_path / "out" / "nginx.conf"
    conf.write_text(parseable_by(nginx_binary, conf.read_text()))  # tests/nginx_versions.py
    checked = subprocess.run([nginx_binary, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0 and "test is successful" in checked.stderr, checked.stderr


def test_installed_preview_from_another_directory(installed: Installed, tmp_path: Path) -> None:
    result = installed.run(tmp_path, "headroom", "preview", "--stack", str(installed.stacks / "Pulumi.dev.yaml"), "--json")
    assert result.returncode == 0, result.stderr
    preview = json.loads(result.stdout)
    types = {resource["type"] for resource in preview["resources"]}
    assert {"aws:autoscaling/group:Group", "aws:autoscaling/policy:Policy",
            "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:core/v1:ConfigMap"} <= types
    # The nginx.conf the program deploys is the one the wheel's templates render.
    _, config = load_stack(str(installed.stacks / "Pulumi.dev.yaml"))
    (config_map,) = [r for r in preview["resources"] if r["type"] == "kubernetes:core/v1:ConfigMap"]
    assert render_all(config)["nginx.conf"] in config_map["inputs"]["data"].values()


def test_installed_reports_render_their_own_templates(installed: Installed, tmp_path: Path) -> None:
    report = REPO_ROOT / "tests" / "data" / "report.json"
    script = ("import sys; from pathlib import Path; from loadtest.formats import render_html; "
              "from loadtest.report import load_report; sys.stdout.write(render_html(load_report(Path(sys.argv[1]))))")
    result = installed.run(tmp_path, "python", "-c", script, str(report))
    assert result.returncode == 0, result.stderr
    assert result.stdout == render_html(load_report(report))
    plan = installed.run(tmp_path, "headroom", "plan", "--stack", str(installed.stacks / "Pulumi.local.yaml"), "--html", "plan.html")
    assert plan.returncode in (0, 1), plan.stderr
    assert "<svg" in (tmp_path / "plan.html").read_text()


def test_installed_stack_name_outside_a_project_names_the_current_directory(installed: Installed, tmp_path: Path) -> None:
    result = installed.run(tmp_path, "headroom", "render", "--stack", "dev", "--out", "out")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"no Pulumi.dev.yaml in {tmp_path.resolve()}" in result.stderr and "current directory" in result.stderr
    assert "site-packages" not in result.stderr and not (tmp_path / "out").exists()
    # In a project directory, a stack name resolves there.
    (tmp_path / "Pulumi.yaml").write_text("name: mine\nruntime: python\n")
    shutil.copy2(installed.stacks / "Pulumi.dev.yaml", tmp_path / "Pulumi.dev.yaml")
    assert installed.run(tmp_path, "headroom", "render", "--stack", "dev", "--out", "out").returncode == 0


def test_installed_validate_runs_its_own_locustfile_and_reference_service(installed: Installed, tmp_path: Path) -> None:
    # A few users for a few seconds: the verdict is beside the point (too few requests is INCONCLUSIVE).
    stack = tmp_path / "Pulumi.local.yaml"
    shutil.copy2(installed.stacks / "Pulumi.local.yaml", stack)
    result = installed.run(tmp_path, "headroom", "validate", "--stack", str(stack), "--users", "3", "--ramp", "1",
                           "--run-time", "4s", "--json", "report.json")
    assert result.returncode in (0, 1, 3), result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["results"]["whole_run"]["requests"] > 0 and report["results"]["whole_run"]["failures"] == 0
