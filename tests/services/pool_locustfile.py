"""A user class that reports its own life, for the open model's pool of users (tests/integration/test_open_model_pool.py).

Each instance logs its ``on_start``, ``on_stop`` and every task's start and end (monotonic time)
as JSON lines to the file named by ``POOL_LOG``. The first instance's ``on_start`` fails; every
tenth task stops its user (``StopUser``). A task takes 40 ms and records one request.
"""

import itertools
import json
import os
import time

import gevent
from locust import User, task
from locust.exception import StopUser

from loadtest.load import recorder  # noqa: F401 - the exact recorder, as every headroom locustfile has it

instances = itertools.count()
tasks = itertools.count()


def log(event: str, instance: int) -> None:
    with open(os.environ["POOL_LOG"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"event": event, "instance": instance, "at": time.monotonic()}) + "\n")


class PoolUser(User):
    def on_start(self) -> None:
        self.instance = next(instances)
        log("start", self.instance)
        if self.instance == 0:
            raise RuntimeError("the first instance's on_start fails")

    def on_stop(self) -> None:
        log("stop", self.instance)

    @task
    def work(self) -> None:
        number = next(tasks)
        log("begin", self.instance)
        started = time.time()
        gevent.sleep(0.04)
        self.environment.events.request.fire(request_type="GET", name="/work", response_time=40.0, response_length=0,
                                             exception=None, context={}, start_time=started)
        log("end", self.instance)
        if number % 10 == 9:
            raise StopUser()
