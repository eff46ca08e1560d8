"""Per-client API rate limits: counted in Redis, exact under concurrency, answered with 429 and Retry-After."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient, APIRequestFactory

from config.throttling import OrderThrottle
from tests.factories import password_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    def set_rates(**rates):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"user": "1000/min", "orders": "1000/min", **rates},
        }

    return set_rates


def _client(username: str) -> APIClient:
    client = APIClient()
    assert client.login(username=username, password=password_for(username))
    return client


def test_a_client_over_its_order_rate_is_told_to_wait_and_others_are_not(role_users, rates):
    rates(orders="3/min")
    trader = _client("trader")
    # Malformed orders count too: the limit is on requests, before anything is read.
    for _ in range(3):
        assert trader.post("/api/v1/orders/", {"side": "BUY"}, format="json").status_code == 400
    refused = trader.post("/api/v1/orders/", {"side": "BUY"}, format="json")
    assert refused.status_code == 429
    assert "throttled" in refused.json()["detail"].lower()
    # 3 per minute: the next one is due 20 seconds after the first.
    assert 18 <= int(refused["Retry-After"]) <= 21
    # Reading orders is not placing them, and the admin has an allowance of its own.
    assert trader.get("/api/v1/orders/").status_code == 200
    assert _client("admin").post("/api/v1/orders/", {"side": "BUY"}, format="json").status_code != 429


def test_the_general_api_rate_applies_per_user(role_users, rates):
    rates(user="2/min")
    viewer = _client("viewer")
    assert [viewer.get("/api/v1/auth/me/").status_code for _ in range(3)] == [200, 200, 429]
    assert _client("trader").get("/api/v1/auth/me/").status_code == 200


def test_requests_at_once_are_each_counted(role_users, rates):
    """DRF's cache throttle read and wrote a list of timestamps: two requests at once both
    passed on the same count. Twenty at once against ten a minute: exactly ten pass."""
    rates(orders="10/min")
    request = APIRequestFactory().post("/api/v1/orders/")
    request.user = get_user_model().objects.get(username="trader")

    def attempt(_):
        return OrderThrottle().allow_request(request, None)

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    assert outcomes.count(True) == 10
