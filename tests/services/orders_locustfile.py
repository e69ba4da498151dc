"""A locustfile of the kind a Locust user already has for the orders API: no headroom import in it.

    locust -f tests/services/orders_locustfile.py --host http://127.0.0.1:PORT OrdersUser
"""

import os
import random

from locust import HttpUser, between, task


class OrdersUser(HttpUser):
    """Creates an order, then reads it back."""

    wait_time = between(0.01, 0.05)

    def on_start(self):
        token = os.environ.get("ORDERS_TOKEN")
        if token:
            self.client.headers["Authorization"] = f"Bearer {token}"

    @task
    def create_and_read(self):
        with self.client.post("/orders", json={"sku": random.choice(["A1", "B2"]), "quantity": 1},
                              name="create order", catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}")
                return
            order_id = response.json()["id"]
        self.client.get(f"/orders/{order_id}", name="read order")


class BrowsingUser(HttpUser):
    """Only checks the service is up (not run unless named)."""

    wait_time = between(0.05, 0.1)

    @task
    def health(self):
        self.client.get("/health", name="health")
