"""The exit-code contract in process: flags refused before any load, output paths checked up front,
user text never read as markup, and anything unexpected exits 4 with one line and a traceback file."""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import os
import platform
import re
import sys
from pathlib import Path

import pytest
from rich.console import Console

from infra.errors import ConfigError
from loadtest import cli
from loadtest.commands import _flags
from loadtest.validation import outputs


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf", "fast", ""])
def test_spawn_rate_and_window_must_be_finite_and_positive(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        _flags.positive_number(value)


def test_good_numbers_pass() -> None:
    assert _flags.positive_number("2.5") == 2.5
    assert _flags.run_time("90s") == 90 and _flags.duration("0") == 0
    with pytest.raises(argparse.ArgumentTypeError):
        _flags.run_time("0s")


def test_users_and_run_time_have_one_bound_for_the_flags_serve_and_the_schema() -> None:
    """`{"runTime": "999999h"}` held serve's one slot for 114 years and 10 million users ran 92 s before
    failing: the flags, serve's overrides and the schema now share ``MAX_USERS`` and ``MAX_RUN_TIME_S``."""
    from infra.config import config_from_keys
    from infra.config.slo import MAX_RUN_TIME_S, MAX_USERS
    from infra.errors import ConfigValidationError
    from loadtest.commands._serve_runs import BadRequestError, parse_overrides

    assert _flags.users(str(MAX_USERS)) == MAX_USERS and _flags.run_time("24h") == MAX_RUN_TIME_S
    for flag, value in ((_flags.users, str(MAX_USERS + 1)), (_flags.run_time, "999999h"), (_flags.run_time, "25h")):
        with pytest.raises(argparse.ArgumentTypeError, match="at most"):
            flag(value)
    for override in ({"runTime": "999999h"}, {"users": MAX_USERS + 1}, {"users": "10000000"}):
        with pytest.raises(BadRequestError, match="at most"):
            parse_overrides(override, "body", "POST /runs")
    for section, value in (("slo", {"runTime": "25h"}), ("slo", {"users": MAX_USERS + 1}),
                           ("pipeline", {"runTime": "999999h"}), ("pipeline", {"users": MAX_USERS + 1}),
                           ("gate", {"runTime": "999999h"}), ("gate", {"users": MAX_USERS + 1}),
                           ("slo", {"arrivalStages": [{"duration": "25h", "rate": 1}]})):
        with pytest.raises(ConfigValidationError):
            config_from_keys({f"headroom:{section}": value}, "Pulumi.x.yaml")
    assert config_from_keys({"headroom:slo": {"runTime": "24h", "users": MAX_USERS}}, "x").slo.users == MAX_USERS


@pytest.mark.parametrize("url", ["ftp://x", "http://", "api.example.com", "http://a b", "http://x/;rm", "http://x\n", "javascript:alert(1)"])
def test_host_must_be_an_http_url(url: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not an http"):
        _flags.http_url(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "https://api.example.com", "http://[::1]:80/base/path", "http://svc.ns.svc"])
def test_host_urls_that_locust_can_load(url: str) -> None:
    assert _flags.http_url(url) == url


def test_local_workers_are_bounded_by_the_machine() -> None:
    limit = _flags.MAX_LOCAL_WORKERS_PER_CORE * (os.cpu_count() or 1)
    assert _flags.local_workers(str(limit)) == limit
    with pytest.raises(argparse.ArgumentTypeError, match="at most"):
        _flags.local_workers(str(limit + 1))


def test_outputs_are_checked_before_the_run(tmp_path: Path) -> None:
    _flags.check_output(tmp_path / "report.json", "--json")  # a new file in an existing directory
    _flags.check_output(Path("-"), "--json")
    with pytest.raises(ConfigError, match="is a directory"):
        _flags.check_output(tmp_path, "--json")
    with pytest.raises(ConfigError, match="does not exist"):
        _flags.check_output(tmp_path / "missing" / "r.json", "--json")
    with pytest.raises(ConfigError, match="cannot create a file in /proc"):
        _flags.check_output(Path("/proc/x.diff"), "--diff-out")
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ConfigError, match=r"is a file, not a directory|does not exist"):
        _flags.check_output_dir(afile / "sub", "--out")
    assert list(tmp_path.iterdir()) == [afile], "a check writes nothing"


def test_dash_writes_to_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert outputs.write_output(Path("-"), "hello\n") == "standard output"
    assert capsys.readouterr().out == "hello\n"


def test_error_text_is_never_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=buffer, width=200, color_system=None, markup=False))
    cli.print_error("--stack '[/x]': no Pulumi.[bold]x[/bold].yaml")
    assert buffer.getvalue().strip() == "error: --stack '[/x]': no Pulumi.[bold]x[/bold].yaml"


def test_a_bug_exits_4_with_one_line_and_the_traceback_in_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=buffer, width=300, color_system=None, markup=False))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)

    def explode(args: argparse.Namespace) -> int:
        raise ZeroDivisionError("division by zero")

    parser = cli.build_parser(["render", "--stack", "dev", "--out", str(tmp_path)])
    args = parser.parse_args(["render", "--stack", "dev", "--out", str(tmp_path)])
    monkeypatch.setattr(cli, "build_parser", lambda argv=None: _Fixed(args, explode))
    assert cli.main(["render"]) == 4
    message = buffer.getvalue()
    assert "Traceback" not in message and message.count("\n") == 1
    match = re.search(r"full traceback in (\S+)\)", message)
    assert match, message
    saved = Path(match.group(1)).read_text()
    assert "ZeroDivisionError: division by zero" in saved and "Traceback" in saved


def test_the_traceback_file_says_what_a_maintainer_asks_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """headroom's version, Python's, the platform and the command line, as pre-commit's error log has them."""
    monkeypatch.setattr(cli, "err", Console(file=io.StringIO(), width=300, color_system=None, markup=False))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)

    def explode(args: argparse.Namespace) -> int:
        raise KeyError("replicas")

    argv = ["render", "--stack", "dev", "--out", str(tmp_path / "with space")]
    args = cli.build_parser(argv).parse_args(argv)
    monkeypatch.setattr(cli, "build_parser", lambda argv=None: _Fixed(args, explode))
    assert cli.main(argv) == 4
    [saved] = tmp_path.glob("headroom-traceback-*.txt")
    text = saved.read_text()
    assert f"headroom version: {importlib.metadata.version('headroom')}\n" in text
    assert sys.version.splitlines()[0] in text and f"sys.executable: {sys.executable}" in text
    assert f"platform: {platform.platform()}\n" in text
    assert f"locust {importlib.metadata.version('locust')}" in text
    assert f"argv: headroom render --stack dev --out '{tmp_path / 'with space'}'\n" in text
    assert "headroom could not carry out the command: KeyError: 'replicas'" in text
    assert text.index("### version information") < text.index("### error information") < text.index("Traceback")
    assert text.rstrip().endswith("KeyError: 'replicas'\n```")
    assert saved.stat().st_mode & 0o077 == 0  # only its owner reads it: the command line may name hosts


class _Fixed:
    """A parser stand-in that hands back parsed arguments whose command is replaced."""

    def __init__(self, args: argparse.Namespace, run: object) -> None:
        self.args = args
        self.args.run = run

    def parse_args(self, argv: object = None) -> argparse.Namespace:
        return self.args
