"""A small user class for the open model's benchmarks and tests: weighted tasks, one request each."""

from locust import FastHttpUser, between, task

from loadtest.load import recorder  # noqa: F401


class MixedUser(FastHttpUser):
    wait_time = between(1, 3)

    @task(3)
    def read(self) -> None:
        self.client.get("/read")

    @task(1)
    def write(self) -> None:
        self.client.post("/write", json={"x": 1})


class StressMixedUser(MixedUser):
    """The stress profile's think time (0.1-0.5 s): the closed model of the coordinated-omission demonstration."""

    wait_time = between(0.1, 0.5)
