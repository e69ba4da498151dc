"""The reference service: a stand-in for the stock prediction API with a finite, known capacity.

``behaviour`` holds the pure model (service times, batch cost, failures);
``server`` serves it over HTTP with aiohttp on uvloop. Run one replica with
``python -m loadtest.reference --port 0`` (it prints ``READY <port>`` when listening).
"""

from .behaviour import ServiceBehaviour

STATS_PATH = "/_headroom/stats"
"""Where a replica reports its utilization, counts and server-side histograms (JSON)."""
RESET_PATH = "/_headroom/reset"

__all__ = ["RESET_PATH", "STATS_PATH", "ServiceBehaviour"]
