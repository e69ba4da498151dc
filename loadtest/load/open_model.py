"""The open model inside Locust: arrivals on a schedule, each one task of any Locust user class.

Locust's users are closed-loop: each waits for its answer, thinks, and asks again. Here
one driver per Locust process (``OpenModelDriver``, a Locust ``User`` whose ``run`` is a
dispatcher) sleeps until each arrival of its share of the schedule
(``loadtest.scenario.arrivals``) and hands it over at once, whatever the service is doing,
to a worker of the scenario's user class (``UserPool``: long-lived greenlets, each owning
one instance of the class, created on demand up to ``maxUsers`` over all processes,
``on_start`` run once). The worker runs one of the class's tasks chosen by its weights
(``@task(n)`` or ``tasks``) and waits for the next arrival. So any Locust user class drives
it: the reference scenario's, a team's own locustfile's, or one generated from declared
requests. Its ``wait_time`` is not used: the schedule replaces the think time.

While it runs an arrival, the worker's greenlet carries the arrival's scheduled time; the
recorder (``loadtest.load.recorder``) reads it from the current greenlet when a request event
fires, and records the latency both from the send (raw) and from the schedule (corrected).
When every worker is busy and the cap is reached, the arrival waits in the pool's queue;
that wait is in the corrected latency only. Counts and lags go to
``loadtest.analysis.arrival_stats.ArrivalStats``.

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
from gevent.event import Event
from gevent.pool import Group
from gevent.queue import Queue
from locust import User, events, task
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopUser
from locust.runners import WorkerRunner
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_STOPPING, DefaultTaskSet, TaskSet

from ..analysis.arrival_stats import ArrivalStats
from ..scenario.arrivals import ArrivalMode, Stage, arrival_offsets
from . import recorder
from .recorder import SCHEDULED_AT, SEND_OFFSET

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
    """Workers of one user class: long-lived greenlets, each owning one instance, created on demand up to ``max_users``.

    ``submit`` hands an arrival to an idle worker, starts a new worker while the cap allows, or
    else leaves the arrival queued until a worker is free (that wait is the service's, in the
    corrected latency). A worker runs one task per arrival, as the arrival's greenlet: the
    recorder reads the scheduled time from it. Workers, not a greenlet spawned per arrival:
    spawning one (with its Group link and a semaphore slot) cost about seven times a hand-over
    through a queue, on the dispatcher's path at up to thousands of arrivals a second
    (bench/open_model_overhead.py, docs/benchmarks.md).
    """

    def __init__(self, driver: OpenModelDriver, user_class: type[User], max_users: int, stats: ArrivalStats) -> None:
        self.driver = driver
        self.user_class = user_class
        self.tasks = weighted_tasks(user_class)
        self.max_users = max_users
        self.stats = stats
        self.queue: Queue[tuple[float, bool]] = Queue()
        """(scheduled time, whether it found every worker busy) of each arrival not yet taken by a worker."""
        self.workers = Group()
        self.idle = 0
        self.outstanding = 0
        self.settled = Event()
        self.settled.set()
        self.created: list[User] = []

    def submit(self, due: float) -> None:
        """An arrival due at ``due`` (epoch seconds): to a free worker, a new one, or the queue."""
        unserved = self.queue.qsize() >= self.idle  # every idle worker already has an arrival coming
        if unserved and len(self.workers) < self.max_users:
            self.workers.spawn(self._work)
            unserved = False
        self.outstanding += 1
        self.settled.clear()
        self.queue.put((due, unserved))

    def _work(self) -> None:
        user: User | None = None
        while True:
            self.idle += 1
            try:
                due, waited = self.queue.get()
            finally:
                self.idle -= 1
            try:
                if waited and self.driver._state == LOCUST_STATE_STOPPING:
                    self.stats.drop()  # it queued past the end of the run: never sent
                    continue
                current = gevent.getcurrent()
                setattr(current, SCHEDULED_AT, due)  # what the recorder measures this arrival's requests from
                setattr(current, SEND_OFFSET, None)
                if user is None:
                    user = self._new_user()
                    if user is None:
                        return  # its on_start failed: the next arrival starts a worker of its own
                self.stats.started(time.time() - due)
                if not self._run(user):
                    user = None  # the task asked this user to stop: a new instance takes its place
            finally:
                self._finished()

    def _finished(self) -> None:
        self.outstanding -= 1
        if self.outstanding == 0:
            self.settled.set()

    def _new_user(self) -> User | None:
        user = self.user_class(self.driver.environment)
        user._state = LOCUST_STATE_RUNNING  # its tasks may check it, as inside Locust's own loop
        user._taskset_instance = DefaultTaskSet(user)  # self.wait() inside a task still works
        user._group = Group()
        self.created.append(user)
        try:
            user.on_start()
        except gevent.GreenletExit:
            self.stats.drop()  # the run ended during on_start: this arrival was never sent
            raise
        except Exception as error:  # as in Locust: an error, this arrival is not sent, and the next one tries again
            self.stats.drop()
            self.driver.environment.events.user_error.fire(user_instance=self.driver, exception=error, tb=error.__traceback__)
            logger.exception("on_start of a new %s failed", self.user_class.__name__)
            return None
        return user

    def _run(self, user: User) -> bool:
        """One task of ``user``, chosen by the class's weights; False when the task stopped the user."""
        try:
            run_one_task(user, random.choice(self.tasks))  # noqa: S311 - a task mix, not a secret
        except (RescheduleTask, RescheduleTaskImmediately, InterruptTaskSet):
            pass
        except StopUser:
            return False
        except Exception as error:  # Locust's own loop logs a task's error and goes on, so do we
            self.driver.environment.events.user_error.fire(user_instance=user, exception=error, tb=error.__traceback__)
            logger.exception("task of %s failed", type(user).__name__)
        return True

    def stop(self) -> None:
        """End every worker (a request in flight is recorded as cut off), count the arrivals never taken as
        dropped, and run every instance's on_stop."""
        self.workers.kill(block=True, timeout=1.0)
        for _ in range(self.queue.qsize()):
            self.stats.drop()
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
        pools = self._pools(classes, max(1, int(options.headroom_open_max_users) // shares), stats)
        weights = [_weight(c) for c in classes]
        stages = [Stage(float(seconds), float(rate)) for seconds, rate in json.loads(options.headroom_open_stages)]
        mode: ArrivalMode = options.headroom_open_mode
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
                pool = pools[0] if len(pools) == 1 else random.choices(pools, weights)[0]  # noqa: S311 - the class mix
                pool.submit(due)
                behind += 1
                if behind >= YIELD_EVERY:
                    gevent.sleep(0)
                    behind = 0
            for pool in pools:
                pool.settled.wait()
        finally:
            for pool in pools:
                pool.stop()

    def _pools(self, classes: list[type[User]], max_users: int, stats: ArrivalStats) -> list[UserPool]:
        """One pool per class, the process's user cap shared by the classes' weights (at least one each)."""
        total = sum(_weight(c) for c in classes)
        return [UserPool(self, c, max(1, max_users * _weight(c) // total), stats) for c in classes]

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
