"""A small user class for the open model's benchmarks and tests: weighted tasks, one request each.

``MixedUser`` sends through Locust's FastHttpUser (geventhttpclient), ``MixedRequestsUser`` the
same tasks through Locust's HttpUser (python-requests): the two HTTP clients Locust supports,
compared by bench/open_model.py. bench/k6/mixed.js is the same mix for k6.
"""

from typing import Any, ClassVar

from locust import FastHttpUser, HttpUser, between

from loadtest.load import recorder  # noqa: F401


def read(user: Any) -> None:
    user.client.get("/read")


def write(user: Any) -> None:
    user.client.post("/write", json={"x": 1})


class MixedUser(FastHttpUser):
    wait_time = between(1, 3)
    tasks: ClassVar[dict[Any, int]] = {read: 3, write: 1}


class MixedRequestsUser(HttpUser):
    """The same tasks on Locust's requests-based client."""

    wait_time = between(1, 3)
    tasks: ClassVar[dict[Any, int]] = {read: 3, write: 1}


class StressMixedUser(MixedUser):
    """The stress profile's think time (0.1-0.5 s): the closed model of the coordinated-omission demonstration."""

    wait_time = between(0.1, 0.5)
