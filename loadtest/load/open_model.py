"""The open model inside Locust: arrivals on a schedule, each one task of any Locust user class.

Locust's users are closed-loop: each waits for its answer, thinks, and asks again. Here
one driver per Locust process (``OpenModelDriver``, a Locust ``User`` whose ``run`` is a
dispatcher) sleeps until each arrival of its share of the schedule
(``loadtest.scenario.arrivals``) and starts it in a greenlet of its own, whatever the
service is doing. The arrival borrows an instance of the scenario's user class from a pool
(created on demand, at most ``maxUsers`` over all processes, ``on_start`` run once), runs
one of the class's tasks chosen by its weights (``@task(n)`` or ``tasks``), and gives the
instance back. So any Locust user class drives it: the reference scenario's, a team's own
locustfile's, or one generated from declared requests. Its ``wait_time`` is not used:
the schedule replaces the think time.

Each arrival's greenlet carries its scheduled time; the recorder (``loadtest.load.recorder``)
reads it from the current greenlet when a request event fires, and records the latency both
from the send (raw) and from the schedule (corrected). When every user is busy, the arrival
waits for one; that wait is in the corrected latency only. Counts and lags go to
``loadtest.analysis.arrivals.ArrivalStats``.

Locust starts one driver per process (the runner asks for as many users as processes), and
Locust's master sends its options to every worker, remote ones too, so each knows its share:
worker i of n takes every n-th arrival (or a Poisson process of 1/n the rate).

Runs inside Locust (gevent); keep it free of anything that blocks.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any, cast

import gevent
from gevent.lock import BoundedSemaphore
from gevent.pool import Group
from locust import User, events, task
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopUser
from locust.runners import WorkerRunner
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_STOPPING, DefaultTaskSet, TaskSet

from ..analysis.arrivals import ArrivalStats
from ..scenario.arrivals import ArrivalMode, Stage, arrival_offsets
from . import recorder
from .recorder import SCHEDULED_AT

logger = logging.getLogger(__name__)

MAX_SLEEP_S = 0.25
"""The dispatcher wakes at least this often, so a graceful stop is seen at once even at low rates."""
YIELD_EVERY = 50
"""A dispatcher that is behind sends without sleeping; it yields to the requests every this many arrivals."""


def _add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("headroom open model")
    group.add_argument("--headroom-open-user", default="",
                       help="the user class (or comma-separated classes, picked by their weight) whose tasks each arrival runs")
    group.add_argument("--headroom-open-stages", default="[]",
                       help="JSON list of [seconds, rate] stages: the rate moves linearly to each rate")
    group.add_argument("--headroom-open-mode", default="constant", choices=("constant", "poisson"))
    group.add_argument("--headroom-open-max-users", type=int, default=1000,
                       help="at most this many user instances over all processes (an arrival waits for a free one)")


class UserPool:
    """Instances of the scenario's user class, created on first need, lent to one arrival at a time."""

    def __init__(self, user_class: type[User], environment: Any, max_users: int) -> None:
        self.user_class = user_class
        self.environment = environment
        self.max_users = max_users
        self.slots = BoundedSemaphore(max_users)
        self.idle: list[User] = []
        self.created: list[User] = []

    def acquire(self) -> User:
        self.slots.acquire()
        if self.idle:
            return self.idle.pop()
        user = self.user_class(self.environment)
        user._state = LOCUST_STATE_RUNNING  # its tasks may check it, as inside Locust's own loop
        user._taskset_instance = DefaultTaskSet(user)  # self.wait() inside a task still works
        user._group = Group()
        self.created.append(user)
        try:
            user.on_start()
        except Exception:
            self.slots.release()
            raise
        return user

    def release(self, user: User, keep: bool = True) -> None:
        if keep:
            self.idle.append(user)
        self.slots.release()

    def stop(self) -> None:
        for user in self.created:
            try:
                stop: Callable[[], object] = user.on_stop
                stop()
            except Exception:  # one user's on_stop must not stop the others'
                logger.exception("on_stop of a pooled %s failed", self.user_class.__name__)


cast(Any, events.init_command_line_parser).add_listener(_add_arguments)  # Locust leaves add_listener untyped


def weighted_tasks(user_class: type[User]) -> list[Callable[..., Any]]:
    """The class's tasks, each repeated by its weight (Locust's own expansion of ``@task(n)`` and ``tasks``)."""
    tasks = list(getattr(user_class, "tasks", []) or [])
    if not tasks:
        raise ValueError(f"user class {user_class.__name__} has no tasks for the open model to run")
    return tasks


def run_one_task(user: Any, task: Any) -> None:
    """One task of the user, once: a function, or one task of a nested TaskSet (never its endless loop)."""
    if isinstance(task, type) and issubclass(task, TaskSet):
        nested = task(user._taskset_instance)
        run_one_task_of_set(nested)
        return
    task(user)


def run_one_task_of_set(task_set: Any) -> None:
    task = task_set.get_next_task()
    if isinstance(task, type) and issubclass(task, TaskSet):
        run_one_task_of_set(task(task_set))
    elif hasattr(task, "__self__") and task.__self__ is task_set:
        task()
    else:
        task(task_set)


def _weight(user_class: type[User]) -> int:
    """A class's share of the arrivals, as Locust shares closed users between classes (``weight``, default 1)."""
    return max(1, int(getattr(user_class, "weight", 1) or 1))


class OpenModelDriver(User):
    """One per Locust process: dispatches this process's share of the arrival schedule."""

    abstract = True

    @task
    def _unused(self) -> None:
        """Never run (``run`` is the dispatcher); Locust warns about a user class without tasks."""

    def run(self) -> None:  # type: ignore[misc]  # the dispatcher replaces Locust's task loop
        self._state = LOCUST_STATE_RUNNING
        options = self.environment.parsed_options
        stats: ArrivalStats = self.environment.headroom_recorder.arrivals
        classes = [self._target_class(name) for name in options.headroom_open_user.split(",")]
        share, shares = self._share(options)
        pools = self._pools(classes, max(1, int(options.headroom_open_max_users) // shares))
        weights = [_weight(c) for c in classes]
        stages = [Stage(float(seconds), float(rate)) for seconds, rate in json.loads(options.headroom_open_stages)]
        mode: ArrivalMode = options.headroom_open_mode
        arrivals = Group()
        start = time.time()
        try:
            behind = 0
            for offset in arrival_offsets(stages, mode, share, shares):
                due = start + offset
                while (wait := due - time.time()) > 0 and self._state != LOCUST_STATE_STOPPING:
                    gevent.sleep(min(wait, MAX_SLEEP_S))
                    behind = 0
                if self._state == LOCUST_STATE_STOPPING:
                    break
                stats.dispatched(time.time() - due)
                pool, tasks = random.choices(pools, weights)[0]  # noqa: S311 - the scenario's class mix, not a secret
                arrivals.spawn(self._arrival, pool, tasks, due, stats)
                behind += 1
                if behind >= YIELD_EVERY:
                    gevent.sleep(0)
                    behind = 0
            arrivals.join()
        finally:
            arrivals.kill(block=True, timeout=1.0)
            for pool, _ in pools:
                pool.stop()

    def _arrival(self, pool: UserPool, tasks: list[Any], due: float, stats: ArrivalStats) -> None:
        current = gevent.getcurrent()
        setattr(current, SCHEDULED_AT, due)
        waited = pool.slots.locked()  # every user busy: this arrival queues for one
        try:
            user = pool.acquire()
        except gevent.GreenletExit:
            stats.drop()  # still waiting for a free user when the run ended
            raise
        except Exception as error:  # a new user's on_start failed: as in Locust, an error, and the next one tries again
            stats.drop()
            self.environment.events.user_error.fire(user_instance=self, exception=error, tb=error.__traceback__)
            logger.exception("on_start of a new %s failed", pool.user_class.__name__)
            return
        keep = True
        try:
            if waited and self._state == LOCUST_STATE_STOPPING:
                stats.drop()  # it queued past the end of the run: never sent
                return
            stats.started(time.time() - due)
            run_one_task(user, random.choice(tasks))  # noqa: S311 - a task mix, not a secret
        except (RescheduleTask, RescheduleTaskImmediately, InterruptTaskSet):
            pass
        except StopUser:
            keep = False  # the task asked this user to stop: a new instance takes its place
        except Exception as error:  # Locust's own loop logs a task's error and goes on, so do we
            self.environment.events.user_error.fire(user_instance=user, exception=error, tb=error.__traceback__)
            logger.exception("task of %s failed", type(user).__name__)
        finally:
            pool.release(user, keep)

    def _pools(self, classes: list[type[User]], max_users: int) -> list[tuple[UserPool, list[Any]]]:
        """One pool per class, the process's user cap shared by the classes' weights (at least one each)."""
        total = sum(_weight(c) for c in classes)
        return [(UserPool(c, self.environment, max(1, max_users * _weight(c) // total)), weighted_tasks(c)) for c in classes]

    def _target_class(self, name: str) -> type[User]:
        available = getattr(self.environment, "available_user_classes", None) or {}
        user_class = available.get(name)
        if user_class is None:
            raise ValueError(f"no user class {name!r} in the locustfile (found: {', '.join(sorted(available)) or 'none'})")
        if self.environment.host:
            user_class.host = self.environment.host
        recorder.apply_request_timeout([user_class], float(self.environment.parsed_options.headroom_request_timeout))
        return user_class  # type: ignore[no-any-return]

    def _share(self, options: Any) -> tuple[int, int]:
        runner = self.environment.runner
        if not isinstance(runner, WorkerRunner):
            return 0, 1
        shares = max(1, int(getattr(options, "expect_workers", 1) or 1))
        return max(0, runner.worker_index) % shares, shares
