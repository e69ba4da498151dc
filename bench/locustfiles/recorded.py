"""The same user as plain.py, with headroom's exact recorder attached."""

from locust import FastHttpUser, constant, task

from loadtest.load import recorder  # noqa: F401


class MaxRateUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def hit(self) -> None:
        self.client.get("/")
