"""Canary against primary under one schedule (``validate --compare-host``): each Locust user is given one of the two.

Users alternate between the target (``--host``, the canary) and the baseline
(``--headroom-compare-host``, the primary) as they are created, in every Locust process, so
both targets receive the same users' traffic at the same moments: the same ramp, the same
think times, the same bursts (closed model), and half of the open model's pooled users
each. A user stays with its target for its life, as a sticky session would: a task that
logs in or keeps cookies keeps them on one target. The recorder keeps the baseline's
requests apart (by the URL each request went to), and the validation compares the two.

Runs inside Locust (gevent).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from locust import FastHttpUser, HttpUser
from locust.env import Environment

from ..analysis.recording import Recording
from .lean_http import LeanHttpUser

if TYPE_CHECKING:
    from .recorder import Recorder

_WRAPPED = "_headroom_alternates"
_COUNTED = "_headroom_target_chosen"


def add_canary_arguments(group: Any) -> None:
    group.add_argument("--headroom-compare-host", default="",
                       help="send every other user to this base URL instead of --host, and record it apart")


def attach_canary(environment: Environment, recorder: Recorder) -> None:
    """With ``--headroom-compare-host``: a recording for the baseline's requests, and users that alternate targets."""
    host = str(getattr(environment.parsed_options, "headroom_compare_host", "") or "").rstrip("/")
    if not host:
        return
    recorder.baseline = Recording(window_seconds=recorder.recording.window_seconds)
    recorder.baseline_host = host
    classes = {*environment.user_classes, *(getattr(environment, "available_user_classes", {}) or {}).values()}
    alternate_targets([c for c in classes if issubclass(c, (HttpUser, FastHttpUser, LeanHttpUser))], host)


def alternate_targets(user_classes: list[type[Any]], baseline_host: str) -> None:
    """Every second user created (of any of these classes, counted together) targets ``baseline_host``."""
    counter = itertools.count()
    for user_class in user_classes:
        if user_class.__dict__.get(_WRAPPED):
            continue
        original = user_class.__init__

        def __init__(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> None:  # noqa: N807
            # A subclass's wrapper calls its parent's: count each user once, in the outermost.
            if not getattr(self, _COUNTED, False):
                setattr(self, _COUNTED, True)
                if next(counter) % 2 == 1:
                    self.host = baseline_host  # read by the users' __init__ to build the client
            _original(self, *args, **kwargs)

        user_class.__init__ = __init__
        setattr(user_class, _WRAPPED, True)
