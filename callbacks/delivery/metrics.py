"""The delivery engine's Prometheus metrics (served at /metrics, camio_portal/metrics.py).

Label values are a fixed few (a delivery's state after the attempt), never ids.
Test events (``Job.test``) are counted apart, as health and the rollup leave them
out; attempts whose outcome is unknown (the sweeper's) are not counted.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from callbacks.models import DeliveryState

# A delivery's state after an attempt, as the outcome label says it (keyed by the state's
# text: the recorder's rows hold plain strings).
OUTCOMES: dict[str, str] = {
    DeliveryState.SUCCEEDED: "succeeded",
    DeliveryState.PENDING: "retrying",
    DeliveryState.FAILED: "failed",
    DeliveryState.CANCELLED: "cancelled",
}

_deliveries = Counter(
    "camio_deliveries", "Attempts recorded, by what became of the delivery.", ["outcome"]
)
_test_deliveries = Counter(
    "camio_test_deliveries", "Attempts of test events recorded, by outcome.", ["outcome"]
)
# Children looked up once, here: the recorder adds to them once per batch.
DELIVERIES = {state: _deliveries.labels(outcome) for state, outcome in OUTCOMES.items()}
TEST_DELIVERIES = {state: _test_deliveries.labels(outcome) for state, outcome in OUTCOMES.items()}

ATTEMPT_SECONDS = Histogram(
    "camio_delivery_attempt_duration_seconds",
    "Time from sending a callback to its answer (or error), test events aside.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)
LATENCY_SECONDS = Histogram(
    "camio_delivery_latency_seconds",
    "Time from the event's creation to its delivery's successful attempt (retries "
    "included; test events and replays aside).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200,
             21600, 86400, 259200),
)

FILTERED = Counter(
    "camio_deliveries_filtered",
    "Deliveries not made because the event did not pass the endpoint's payload filter.",
)
