"""Plain Locust: FastHttpUser at full speed, no headroom code loaded. The baseline."""

from locust import FastHttpUser, constant, task


class MaxRateUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def hit(self) -> None:
        self.client.get("/")
