"""Role x endpoint: who may read and who may write, answered identically for every endpoint."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from monitoring.models import Alert
from monitoring.roles import Role
from risk.models import RiskLimit
from strategies.models import Strategy
from strategies.services import strategy_create
from tests.factories import make_order
from trading.models import Account, Instrument, Sector, Venue

pytestmark = pytest.mark.django_db

READ_ENDPOINTS = [
    "/api/v1/sectors/",
    "/api/v1/venues/",
    "/api/v1/instruments/",
    "/api/v1/accounts/",
    "/api/v1/orders/",
    "/api/v1/fills/",
    "/api/v1/positions/",
    "/api/v1/cash-balances/",
    "/api/v1/portfolio/snapshots/",
    "/api/v1/strategies/",
    "/api/v1/risk/limits/",
    "/api/v1/risk/kill-switches/",
    "/api/v1/risk/kill-switch-events/",
    "/api/v1/risk/decisions/",
    "/api/v1/alerts/",
    "/api/v1/auth/me/",
]
ROLES = [Role.VIEWER, Role.TRADER, Role.RISK_MANAGER, Role.ADMIN]


@pytest.mark.parametrize("url", READ_ENDPOINTS)
def test_anonymous_reads_are_unauthenticated(api, url):
    response = api(None).get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("url", READ_ENDPOINTS)
def test_every_role_reads_every_desk_endpoint(api, reference_data, role, url):
    assert api(role).get(url).status_code == 200


@pytest.mark.parametrize(
    ("role", "expected"),
    [(None, 401), (Role.VIEWER, 403), (Role.TRADER, 403), (Role.RISK_MANAGER, 200), (Role.ADMIN, 200)],
)
def test_audit_log_is_for_risk_managers_and_admins(api, role, expected):
    assert api(role).get("/api/v1/audit-log/").status_code == expected


def _limit():
    return RiskLimit.objects.create(name="Max qty", kind="max_order_quantity", value="1000")


def _strategy(role_users, status=Strategy.Status.DRAFT):
    strategy = strategy_create(name="Mean rev", strategy_type="mean_reversion", spec={}, user=role_users[Role.ADMIN])
    Strategy.objects.filter(pk=strategy.pk).update(status=status)
    return strategy


def _alert():
    return Alert.objects.create(category="service", title="Redis down")


# (name, minimum role, success status, request builder(role_users) -> (method, url, payload))
WRITES = [
    (
        "create limit",
        Role.RISK_MANAGER,
        201,
        lambda u: ("post", "/api/v1/risk/limits/", {"name": "Notional", "kind": "max_order_notional", "value": "5000"}),
    ),
    (
        "update limit",
        Role.RISK_MANAGER,
        200,
        lambda u: ("patch", f"/api/v1/risk/limits/{_limit().pk}/", {"value": "2000"}),
    ),
    ("disable limit", Role.RISK_MANAGER, 200, lambda u: ("post", f"/api/v1/risk/limits/{_limit().pk}/disable/", None)),
    (
        "create strategy",
        Role.TRADER,
        201,
        lambda u: ("post", "/api/v1/strategies/", {"name": "EMA", "strategy_type": "ema_cross", "spec": {}}),
    ),
    (
        "edit strategy",
        Role.TRADER,
        200,
        lambda u: ("patch", f"/api/v1/strategies/{_strategy(u).pk}/", {"spec": {"parameters": {"window": 20}}}),
    ),
    ("delete strategy", Role.TRADER, 204, lambda u: ("delete", f"/api/v1/strategies/{_strategy(u).pk}/", None)),
    ("acknowledge alert", Role.TRADER, 200, lambda u: ("post", f"/api/v1/alerts/{_alert().pk}/acknowledge/", None)),
    ("resolve alert", Role.TRADER, 200, lambda u: ("post", f"/api/v1/alerts/{_alert().pk}/resolve/", None)),
    (
        "create account",
        Role.ADMIN,
        201,
        lambda u: ("post", "/api/v1/accounts/", {"name": "SIM-002", "venue": Venue.objects.get(code="SIM").pk}),
    ),
    (
        "update account",
        Role.ADMIN,
        200,
        lambda u: ("patch", f"/api/v1/accounts/{Account.objects.get(name='SIM-001').pk}/", {"leverage": "5"}),
    ),
    (
        "create instrument",
        Role.ADMIN,
        201,
        lambda u: (
            "post",
            "/api/v1/instruments/",
            {
                "symbol": "NVDA",
                "venue": Venue.objects.get(code="SIM").pk,
                "asset_class": "equity",
                "sector": Sector.objects.get(code="technology").pk,
                "quote_currency": "USD",
                "tick_size": "0.01",
                "lot_size": "1",
            },
        ),
    ),
    (
        "update instrument",
        Role.ADMIN,
        200,
        lambda u: (
            "patch",
            f"/api/v1/instruments/{Instrument.objects.get(instrument_id='AAPL.SIM').pk}/",
            {"tradable": False},
        ),
    ),
]


@pytest.mark.parametrize("role", [None, *ROLES])
@pytest.mark.parametrize(("name", "minimum", "success", "build"), WRITES, ids=[w[0] for w in WRITES])
def test_writes_need_their_role(api, role_users, reference_data, role, name, minimum, success, build):
    method, url, payload = build(role_users)
    response = getattr(api(role), method)(url, payload, format="json")
    if role is None:
        assert response.status_code == 401
    elif role >= minimum:
        assert response.status_code == success, response.content
    else:
        assert response.status_code == 403, response.content


def test_order_placement_is_not_open_to_viewers(api, reference_data):
    # Whatever the order service adds at POST orders/, a Viewer is refused.
    assert api(Role.VIEWER).post("/api/v1/orders/", {}, format="json").status_code == 403


def test_token_authenticates_api_clients(role_users, reference_data):
    from rest_framework.test import APIClient

    token = Token.objects.create(user=role_users[Role.TRADER])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/orders/").status_code == 200
    response = client.post(
        "/api/v1/strategies/", {"name": "By token", "strategy_type": "breakout", "spec": {}}, format="json"
    )
    assert response.status_code == 201
    assert (
        client.post(
            "/api/v1/risk/limits/", {"name": "x", "kind": "daily_loss", "value": "1"}, format="json"
        ).status_code
        == 403
    )


def test_rejects_unknown_token_with_401(reference_data):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/orders/").status_code == 401


def test_unknown_objects_are_404(api):
    client = api(Role.ADMIN)
    for url in [
        "/api/v1/orders/999999/",
        "/api/v1/strategies/999999/",
        "/api/v1/risk/limits/999999/",
        "/api/v1/strategies/999999/versions/",
        "/api/v1/orders/999999/events/",
        "/api/v1/nowhere/",
    ]:
        assert client.get(url).status_code == 404, url
    assert client.patch("/api/v1/risk/limits/999999/", {"value": "1"}, format="json").status_code == 404


def test_order_list_reads_real_rows(api):
    order = make_order()
    body = api(Role.VIEWER).get("/api/v1/orders/").json()
    assert body["count"] == 1
    assert body["results"][0]["client_order_id"] == order.client_order_id
