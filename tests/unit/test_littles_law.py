"""Little's law before any load: a plan that cannot produce its own throughput target is refused."""

from __future__ import annotations

import pytest

from infra.config import SloConfig
from loadtest.analysis.littles_law import check_load
from loadtest.errors import ContradictoryLoadError
from loadtest.scenario.profiles import PROFILES


def test_500_users_at_1_to_3_s_cannot_make_400_rps() -> None:
    with pytest.raises(ContradictoryLoadError) as caught:
        check_load(500, PROFILES["normal"], SloConfig(min_throughput_rps=400))
    message = str(caught.value)
    assert "at most 250.0 req/s" in message and "asks for 400" in message and "at least 800" in message


def test_a_feasible_plan_reports_its_ceiling() -> None:
    check = check_load(500, PROFILES["normal"], SloConfig(min_throughput_rps=200))
    assert check.max_throughput_rps == pytest.approx(250)
    assert check.expected_throughput_rps == pytest.approx(500 / 2.2)


def test_shorter_waits_raise_the_ceiling() -> None:
    check = check_load(500, PROFILES["stress"], SloConfig(min_throughput_rps=400))
    assert check.max_throughput_rps == pytest.approx(500 / 0.3)
