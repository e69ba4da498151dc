"""A user whose one task is a request that costs nothing: what is left is headroom's own cost per arrival.

bench/open_model_overhead.py runs it under the open model: the dispatcher, the pool of users,
and the exact recorder (latency from the schedule and from the send, the arrival's lags) run as
in a real run; the request itself is a Locust request event with no I/O behind it.
"""

import time

from locust import User, task

from loadtest.load import recorder  # noqa: F401 - the exact recorder, as every headroom locustfile has it


class FreeUser(User):
    @task
    def free(self) -> None:
        started = time.time()
        self.environment.events.request.fire(request_type="GET", name="/free", response_time=1.0, response_length=0,
                                             exception=None, context={}, start_time=started)
