"""``headroom:scenario``: the schema's refusals, the shape the models read, profiles, and secret handling (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import SloConfig, StackConfig
from infra.config.loader import config_from_keys
from infra.config.scenario import ScenarioConfig
from infra.errors import ConfigError, ConfigValidationError
from loadtest.analysis.littles_law import check_load
from loadtest.errors import ContradictoryLoadError
from loadtest.scenario.profiles import PROFILES
from loadtest.scenario.secrets import config_env_name, masked, resolve, secret_environment
from loadtest.scenario.shape import REFERENCE, declared_shape, profile_for, think_factor
from loadtest.scenario.spec import declared_spec, encode

ORDERS: dict[str, Any] = {
    "thinkTime": {"min": 0.5, "max": 1.5},
    "headers": {"Authorization": "Bearer ${env:ORDERS_TOKEN}", "X-Api-Key": "${config:orders:apiKey}"},
    "variables": {"sku": ["A1", "B2"], "order": {"from": 1, "to": 50}},
    "requests": [
        {"name": "create order", "method": "POST", "path": "/orders", "body": {"sku": "{sku}", "quantity": 2, "gift": False},
         "expect": {"status": [201], "json": [{"field": "id", "type": "string"}, {"field": "status", "equals": "created"}]}},
        {"name": "read order", "path": "/orders/{order}", "weight": 3},
    ],
}


def scenario(section: dict[str, Any]) -> ScenarioConfig:
    config = config_from_keys({"headroom:scenario": section}, "Pulumi.t.yaml")
    assert config.scenario is not None
    return config.scenario


def refusal(section: Any) -> str:
    with pytest.raises(ConfigValidationError) as caught:
        config_from_keys({"headroom:scenario": section}, "Pulumi.t.yaml")
    return str(caught.value)


def test_no_scenario_is_the_reference() -> None:
    assert StackConfig().scenario is None
    assert profile_for(PROFILES["spike"], REFERENCE) is PROFILES["spike"]
    assert REFERENCE.mean_think_time_s == 2.0
    assert [share for _, share in REFERENCE.mix] == pytest.approx([7 / 11, 3 / 11, 1 / 11])


@pytest.mark.parametrize(("section", "fragments"), [
    ({"requests": [{"path": "/orders/{id}"}]}, ["headroom:scenario:", "{id}", "'/orders/{id}'", "declared: none"]),
    ({"variables": {"sku": ["A1"]}, "requests": [{"path": "/o/{id}"}]}, ["uses the variable {id}", "declared: sku"]),
    ({"variables": {"sku": ["A1"]}, "requests": [{"path": "/o", "body": {"s": "{nope}"}}]}, ["uses the variable {nope}"]),
    ({"requests": [{"path": "/o", "weight": 0}]}, ["headroom:scenario.requests[0].weight = 0", "greater than or equal to 1"]),
    ({"requests": [{"path": "/o", "weight": -2}]}, ["headroom:scenario.requests[0].weight = -2"]),
    ({"locustfile": "lf.py", "userClasses": [{"name": "A", "weight": 0}]}, ["headroom:scenario.userClasses[0].weight = 0"]),
    ({"requests": [{"path": "/o", "expect": {"status": [99]}}]}, ["expect.status[0] = 99", "greater than or equal to 100"]),
    ({"requests": [{"path": "/o", "expect": {"status": [600]}}]}, ["expect.status[0] = 600", "less than or equal to 599"]),
    ({"requests": [{"path": "/o", "body": {"at": __import__("datetime").date(2024, 1, 1)}}]},
     ["headroom:scenario.requests[0].body", "not JSON-serialisable", "allowed: strings, numbers"]),
    ({"requests": [{"path": "/o", "body": float("nan")}]}, ["not JSON-serialisable"]),
    ({"requests": [{"path": "/o x"}]}, ["headroom:scenario.requests[0].path = '/o x': not allowed"]),
    ({"requests": [{"path": "/o\n"}]}, ["requests[0].path"]),
    ({"requests": [{"path": "o"}]}, ["requests[0].path = 'o': not allowed"]),
    ({"requests": [{"path": "/o", "method": "BREW"}]}, ["requests[0].method = 'BREW'"]),
    ({"requests": [{"path": "/o", "headers": {"X": "a\r\nEvil: 1"}}]}, ["headers.X", "no line breaks"]),
    ({"requests": [{"path": "/o", "headers": {"Bad Name": "1"}}]}, ['headers["Bad Name"]', "an HTTP header name"]),
    ({"requests": [{"path": "/o", "headers": {"X": "${vault:x}"}}]}, ["${vault:x} is not a reference", "${env:NAME}"]),
    ({"requests": [{"path": "/o", "name": "a\nb"}]}, ["requests[0].name"]),
    ({"requests": [{"path": "/o"}, {"path": "/o"}]}, ["two requests share the name '/o'"]),
    ({"variables": {"id": ["a b"]}, "requests": [{"path": "/{id}"}]}, ["variables.id = ['a b']", "URL-safe"]),
    ({"variables": {"id": {"from": 5, "to": 1}}, "requests": [{"path": "/{id}"}]}, ["variables.id", "N <= M"]),
    ({"variables": {"id": []}, "requests": [{"path": "/{id}"}]}, ["variables.id", "0 values"]),
    ({"requests": [{"path": "/o", "expect": {"json": [{"field": "id"}]}}]}, ["exactly one of present, equals, type"]),
    ({"requests": [{"path": "/o", "expect": {"json": [{"field": "id", "type": "date"}]}}]}, ["json[0].type = 'date'"]),
    ({"requests": [{"path": "/o"}], "thinkTime": {"min": 3, "max": 1}}, ["min (3) must not be above max (1)"]),
    ({"requests": [{"path": "/o"}], "thinkTime": {"min": 1, "max": 2, "constantPacing": 1}}, ["not both"]),
    ({"locustfile": "lf.py"}, ["locustfile needs userClasses"]),
    ({"locustfile": "lf.py", "userClasses": ["A"], "requests": [{"path": "/"}]}, ["not requests", "not both"]),
    ({"locustfile": "lf.txt", "userClasses": ["A"]}, ["locustfile = 'lf.txt': not allowed"]),
    ({"locustfile": "lf.py", "userClasses": ["1A"]}, ["userClasses[0].name = '1A'"]),
    ({"locustfile": "lf.py", "userClasses": ["A", "A"]}, ["names a class twice"]),
    ({"userClasses": ["A"]}, ["give locustfile too"]),
    ({}, ["give locustfile (with userClasses) or a non-empty requests list"]),
    ({"requests": [{"path": "/o/{oid}", "capture": {"oid": "id"}}]}, ["uses {oid}, which only it captures"]),
    ({"requests": [{"name": "a", "path": "/a/{x}", "capture": {"y": "id"}}, {"name": "b", "path": "/b/{y}", "capture": {"x": "id"}}]},
     ["requests[0] (a) waits for a capture of requests[1]"]),
    ({"variables": {"oid": [1]}, "requests": [{"path": "/o", "capture": {"oid": "id"}}]}, ["oid is both declared under variables and captured"]),
    ({"requests": [{"path": "/o", "capture": {"oid": "a b"}}]}, ["requests[0].capture.oid = 'a b'", "dotted field path"]),
    ({"requests": [{"path": "/o", "weight": True}]}, ["requests[0].weight = True", "not a boolean"]),
])
def test_bad_scenarios_name_the_key_the_value_and_what_is_allowed(section: dict[str, Any], fragments: list[str]) -> None:
    message = refusal(section)
    assert "Pulumi.t.yaml" in message
    for fragment in fragments:
        assert fragment in message, message


def test_a_captured_variable_may_be_used_by_later_requests() -> None:
    config = scenario({"requests": [{"name": "create", "method": "POST", "path": "/orders", "capture": {"orderId": "order.id"}},
                                    {"name": "read", "path": "/orders/{orderId}", "weight": 3}]})
    assert config.captured == {"orderId": 0}
    assert declared_spec(config, 1.0)["requests"][0]["capture"] == {"orderId": "order.id"}


def test_a_declared_scenario_s_shape_is_its_own_think_time_and_mix() -> None:
    shape = declared_shape(scenario(ORDERS))
    assert shape.mean_think_time_s == 1.0
    assert shape.mix == (("create order", 0.25), ("read order", 0.75))
    paced = declared_shape(scenario({**ORDERS, "thinkTime": {"constantPacing": 4}}))
    assert (paced.think_min_s, paced.think_max_s, paced.mean_think_time_s) == (4, 4, 4)
    assert declared_shape(scenario({"requests": [{"path": "/"}]})).mean_think_time_s == 2.0  # the reference's 1-3 s


def test_profiles_scale_the_scenario_s_think_time_not_its_requests() -> None:
    shape = declared_shape(scenario(ORDERS))
    assert [think_factor(PROFILES[name]) for name in ("normal", "spike", "stress")] == pytest.approx([1, 0.5, 0.15])
    spike = profile_for(PROFILES["spike"], shape)
    assert (spike.wait_min_s, spike.wait_max_s, spike.spawn_rate) == (0.25, 0.75, PROFILES["spike"].spawn_rate)
    assert spike.user_class == "ScenarioUser"
    normal_spec = declared_spec(scenario(ORDERS), 1.0)
    stress_spec = declared_spec(scenario(ORDERS), think_factor(PROFILES["stress"]))
    assert normal_spec["requests"] == stress_spec["requests"]
    assert stress_spec["wait"] == pytest.approx({"min": 0.075, "max": 0.225})


def test_little_s_law_uses_the_scenario_s_think_time() -> None:
    slo = SloConfig(users=10, p95_ms=200, min_throughput_rps=15)
    fast = profile_for(PROFILES["normal"], declared_shape(scenario({**ORDERS, "thinkTime": {"min": 0.1, "max": 0.3}})))
    assert check_load(10, fast, slo).max_throughput_rps == pytest.approx(50)  # 10 users / 0.2 s
    with pytest.raises(ContradictoryLoadError, match="10 users waiting 1-3 s"):
        check_load(10, PROFILES["normal"], slo)  # the reference's 2 s cannot give 15 req/s


def test_secrets_are_checked_passed_by_environment_and_never_in_the_spec() -> None:
    config = scenario(ORDERS)
    keys = {"orders:apiKey": "key-1234567", "aws:region": "us-east-1"}
    extra = secret_environment(config, {"ORDERS_TOKEN": "tok-abcdef"}, keys, "Pulumi.t.yaml")
    assert extra == {config_env_name("orders:apiKey"): "key-1234567"}
    text = encode(declared_spec(config, 1.0))
    assert "tok-abcdef" not in text and "key-1234567" not in text
    headers = json.loads(text)["requests"][0]["headers"]
    env = {"ORDERS_TOKEN": "tok-abcdef", **extra}
    assert {name: resolve(value, env) for name, value in headers.items()} == {
        "Authorization": "Bearer tok-abcdef", "X-Api-Key": "key-1234567"}
    shown = masked(config.headers["Authorization"], env)
    assert shown == "Bearer ${env:ORDERS_TOKEN} (set)" and "tok-abcdef" not in shown


@pytest.mark.parametrize(("env", "keys", "fragment"), [
    ({}, {"orders:apiKey": "k"}, "headroom:scenario.headers.Authorization = '${env:ORDERS_TOKEN}': the environment variable ORDERS_TOKEN is not set"),
    ({"ORDERS_TOKEN": "t"}, {}, "headroom:scenario.headers.X-Api-Key = '${config:orders:apiKey}': the stack file has no key orders:apiKey"),
    ({"ORDERS_TOKEN": "t"}, {"orders:apiKey": {"secure": "AAABAJ"}}, "is a secure (encrypted) value"),
    ({"ORDERS_TOKEN": "t\nX: y"}, {"orders:apiKey": "k"}, "its value (not shown) is not a valid header value"),
])
def test_an_unresolvable_secret_is_exit_2_and_shows_no_value(env: dict[str, str], keys: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        secret_environment(scenario(ORDERS), env, keys, "Pulumi.t.yaml")
    assert caught.value.exit_code == 2
    assert fragment in str(caught.value) and "Pulumi.t.yaml" in str(caught.value)
    assert "AAABAJ" not in str(caught.value) and "X: y" not in str(caught.value)


def _show(tmp_path: Any, capsys: pytest.CaptureFixture[str], section: str, *flags: str) -> tuple[int, str]:
    from loadtest import cli

    stack = tmp_path / "Pulumi.s.yaml"
    stack.write_text("config:\n  orders:apiKey: key-1234567\n" + section)
    code = cli.main(["scenario", "show", "--stack", str(stack), *flags])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_scenario_show_prints_what_is_sent_with_secrets_masked(tmp_path: Any, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    section = "  headroom:scenario: " + json.dumps(ORDERS) + "\n"
    monkeypatch.delenv("ORDERS_TOKEN", raising=False)
    code, text = _show(tmp_path, capsys, section)
    assert code == 0, text
    assert "Authorization: Bearer ${env:ORDERS_TOKEN} (NOT SET)" in text
    assert "X-Api-Key: ${config:orders:apiKey} (from the stack file)" in text
    assert "POST /orders" in text and "GET /orders/{order}" in text and "create order 25%, read order 75%" in text
    assert "key-1234567" not in text
    monkeypatch.setenv("ORDERS_TOKEN", "tok-abcdef")
    code, text = _show(tmp_path, capsys, section, "--spec", "--profile", "spike")
    assert code == 0 and "tok-abcdef" not in text and "key-1234567" not in text
    spec = json.loads(text)
    assert spec["wait"] == {"min": 0.25, "max": 0.75}
    assert spec["requests"][0]["headers"]["X-Api-Key"] == "${env:HEADROOM_CONFIG_ORDERS_APIKEY}"


def test_scenario_show_without_a_scenario_is_the_reference(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _show(tmp_path, capsys, "")
    assert code == 0
    assert "the reference scenario" in text and "mean 2 s" in text


def test_the_worked_examples_in_docs_scenarios_md_are_valid() -> None:
    import re

    from ruamel.yaml import YAML

    from infra.config import REPO_ROOT

    text = (REPO_ROOT / "docs" / "scenarios.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    declared = YAML(typ="safe", pure=True).load(blocks[0])["config"]
    assert declared_shape(scenario(declared["headroom:scenario"])).mix == (("create order", 0.25), ("read order", 0.75))
    located = YAML(typ="safe", pure=True).load("config:\n" + blocks[1])["config"]
    assert scenario(located["headroom:scenario"]).locustfile == "loadtests/orders_locustfile.py"
    own = config_from_keys(YAML(typ="safe", pure=True).load(blocks[2])["config"], "search")
    assert own.capacity.replicas == 2 and own.slo.p99_ms == 200 and "/search" in own.slo.endpoints


@pytest.mark.parametrize(("flags", "fragment"), [
    (["--master-host", "a;b"], "is not a hostname"),
    (["--master-host", "m", "--master-port", "70000"], "a port is 1-65535"),
    (["--master-host", "m", "--window", "0"], "--window"),
])
def test_scenario_worker_refuses_bad_flags(tmp_path: Any, capsys: pytest.CaptureFixture[str], flags: list[str],
                                           fragment: str) -> None:
    from loadtest import cli

    stack = tmp_path / "Pulumi.s.yaml"
    stack.write_text("config: {}\n")
    with pytest.raises(SystemExit) as caught:
        cli.main(["scenario", "worker", "--stack", str(stack), *flags])
    assert caught.value.code == 2
    assert fragment in capsys.readouterr().err


def test_scenario_worker_refuses_an_unset_secret_before_joining(tmp_path: Any, capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from loadtest import cli

    monkeypatch.delenv("ORDERS_TOKEN", raising=False)
    stack = tmp_path / "Pulumi.s.yaml"
    stack.write_text("config:\n  orders:apiKey: k\n  headroom:scenario: " + json.dumps(ORDERS) + "\n")
    assert cli.main(["scenario", "worker", "--stack", str(stack), "--master-host", "m"]) == 2
    assert "ORDERS_TOKEN" in capsys.readouterr().err


def test_scenario_show_spec_of_the_reference_scenario_says_there_is_none(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """It printed an empty line with exit 0: a HEADROOM_SCENARIO="$(...)" then silently held nothing."""
    from loadtest import cli

    stack = tmp_path / "Pulumi.s.yaml"
    stack.write_text("config:\n  headroom:deploy: {aws: false, kubernetes: false}\n")
    assert cli.main(["scenario", "show", "--stack", str(stack), "--spec"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "sends the reference scenario, which has no spec" in captured.err
    assert cli.main(["scenario", "show", "--stack", str(stack)]) == 0  # without --spec: the reference, described
