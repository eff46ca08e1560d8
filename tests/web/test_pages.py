"""Section pages: who may see them, that they show the real rows, and how they treat bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from monitoring.roles import Role
from tests.factories import ROLE_USERNAMES, make_order, make_reference_data
from tests.web.desk_rows import make_desk_rows

SECTION_URLS = ["/", "/strategies/", "/risk/", "/execution/", "/portfolio/", "/monitoring/", "/monitoring/audit/"]
ROLES = list(ROLE_USERNAMES)


@pytest.fixture
def rows(role_users):
    make_reference_data()
    return make_desk_rows(user=role_users[Role.RISK_MANAGER])


def detail_urls(rows) -> list[str]:
    return [reverse("strategy-detail", args=[rows.strategy.pk]), reverse("order-detail", args=[rows.order.pk])]


@pytest.mark.django_db
@pytest.mark.parametrize("url", [*SECTION_URLS, "/strategies/1/", "/execution/orders/1/"])
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('login')}?next=")


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES, ids=[r.label for r in ROLES])
def test_every_role_reads_every_section_with_its_rows(client, role_users, rows, role):
    client.force_login(role_users[role])
    expected = {
        "/": ["O-WEB-000001", "Daily loss at 91% of limit", "EURUSD mean reversion", "1,000,000.01"],
        "/strategies/": ["EURUSD mean reversion", "Running in simulation", "v1"],
        "/risk/": [
            "Global max order qty",
            "Max order quantity",
            "1,000,000",
            "v1",
            "drill",
            "MAX_ORDER_QUANTITY",
            "Daily loss at 91% of limit",
        ],
        "/execution/": ["O-WEB-000001", "O-WEB-000002", "T-WEB-1", "Partially filled", "Rejected by risk"],
        "/portfolio/": ["1,000,000.01", "999,999.13", "-12.34", "EUR/USD.SIM", "1.08523"],
        "/monitoring/": ["Daily loss at 91% of limit", "risk_limit.update"],
        "/monitoring/audit/": ["risk_limit.update", "900000", "1000000"],
    }
    for url in SECTION_URLS + detail_urls(rows):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert role_users[role].username in html
        for text in expected.get(url, []):
            assert text in html, f"{text!r} missing on {url}"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES, ids=[r.label for r in ROLES])
def test_sections_show_empty_states_without_rows(client, role_users, role):
    client.force_login(role_users[role])
    empty = {
        "/": ["No orders yet", "No open alerts", "No open positions", "No strategies"],
        "/strategies/": ["No strategies"],
        "/risk/": ["No risk limits", "Never engaged", "No decisions yet", "No risk alerts"],
        "/execution/": ["No active orders", "No orders yet", "No fills yet"],
        # Equity history loads in its own request (covered in tests/portfolio_ui).
        "/portfolio/": ["No portfolio snapshot yet", "No open positions", "No cash balances"],
        "/monitoring/": ["No alerts", "No audit entries"],
        "/monitoring/audit/": ["No audit entries"],
    }
    for url, texts in empty.items():
        html = client.get(url).content.decode()
        for text in texts:
            assert text in html, f"{text!r} missing on {url}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "allowed"), [(Role.VIEWER, False), (Role.TRADER, False), (Role.RISK_MANAGER, True), (Role.ADMIN, True)]
)
def test_django_admin_is_forbidden_below_risk_manager(client, role_users, role, allowed):
    client.force_login(role_users[role])
    response = client.get("/admin/")
    assert response.status_code == (200 if allowed else 403)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES, ids=[r.label for r in ROLES])
def test_admin_link_only_for_admins(client, role_users, role):
    client.force_login(role_users[role])
    html = client.get("/").content.decode()
    assert ('href="/admin/"' in html) == (role == Role.ADMIN)


@pytest.mark.django_db
def test_unknown_url_renders_the_404_page(client, role_users):
    client.force_login(role_users[Role.VIEWER])
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Nothing here" in response.content.decode()
    assert client.get("/execution/orders/999999/").status_code == 404
    assert client.get("/strategies/999999/").status_code == 404


@pytest.mark.django_db
def test_header_carries_user_role_indicators_and_sections(client, role_users):
    client.force_login(role_users[Role.TRADER])
    html = client.get("/").content.decode()
    for label in ("Nautilus", "Risk Management", "F8 Portfolio", "Data Feeds", "KILL SWITCH"):
        assert label in html
    for section in ("Dashboard", "Strategies", "Risk", "Execution", "Portfolio", 'href="/markets/"', "Monitoring"):
        assert section in html
    assert 'data-testid="role">Trader<' in html
    assert f'action="{reverse("logout")}"' in html


@pytest.mark.django_db
def test_login_and_logout_round_trip(client, role_users):
    from tests.factories import password_for

    response = client.post(reverse("login"), {"username": "viewer", "password": password_for("viewer")})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert client.get("/").status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_login_with_wrong_password_says_so(client, role_users):
    response = client.post(reverse("login"), {"username": "viewer", "password": "wrong"})
    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()


@pytest.mark.django_db
def test_execution_filters_orders(client, role_users, rows):
    client.force_login(role_users[Role.VIEWER])
    html = client.get("/execution/", {"status": "REJECTED", "fragment": "history"}).content.decode()
    assert "O-WEB-000002" in html and "O-WEB-000001" not in html
    html = client.get(
        "/execution/", {"side": "BUY", "order_type": "LIMIT", "instrument": "EUR/USD.SIM", "fragment": "history"}
    ).content.decode()
    assert "O-WEB-000001" in html and "O-WEB-000002" not in html
    html = client.get(
        "/execution/", {"date_from": "2001-01-01", "date_to": "2001-01-02", "fragment": "history"}
    ).content.decode()
    assert "No orders match" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "NOPE"}, "status"),
        ({"side": "LONG"}, "side"),
        ({"instrument": "XXX.NOWHERE"}, "instrument"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_from": "2024-02-02", "date_to": "2024-02-01"}, "date_to"),
    ],
)
def test_execution_rejects_bad_filters_with_400_naming_the_field(client, role_users, params, field):
    client.force_login(role_users[Role.VIEWER])
    response = client.get("/execution/", params)
    assert response.status_code == 400
    assert field in response.context["form"].errors


@pytest.mark.django_db
def test_execution_paginates_history(client, role_users):
    client.force_login(role_users[Role.VIEWER])
    for i in range(55):
        make_order(client_order_id=f"O-PAGE-{i:04d}")
    first = client.get("/execution/").content.decode()
    assert "Page 1 of 2" in first and "O-PAGE-0054" in first and "O-PAGE-0000" not in first.split("Order history")[1]
    second = client.get("/execution/", {"page": 2}).content.decode()
    assert "Page 2 of 2" in second and "O-PAGE-0000" in second
    assert client.get("/execution/", {"page": 9}).status_code == 404


@pytest.mark.django_db
def test_order_page_shows_timeline_decision_and_fills(client, role_users, rows):
    client.force_login(role_users[Role.VIEWER])
    html = client.get(reverse("order-detail", args=[rows.order.pk])).content.decode()
    for text in (
        "to risk_check",
        "to accepted",
        "Partially filled",
        "max_order_quantity",
        "#1 v3",
        "412 µs",
        "T-WEB-1",
        "1.08501",
        "0.87",
    ):
        assert text in html, text
    rejected = client.get(reverse("order-detail", args=[rows.rejected.pk])).content.decode()
    assert "MAX_ORDER_QUANTITY" in rejected and "over max order quantity" in rejected


@pytest.mark.django_db
def test_prices_are_shown_exactly_at_instrument_precision(client, role_users, rows):
    client.force_login(role_users[Role.VIEWER])
    html = client.get(reverse("order-detail", args=[rows.order.pk])).content.decode()
    assert "1.08500" in html  # EUR/USD tick 0.00001: five decimals
    assert "10,000" in html  # lot 1000: no decimals on the quantity
    make_order(
        client_order_id="O-BTC-1",
        instrument=rows.order.instrument.__class__.objects.get(instrument_id="BTC/USD.SIM"),
        order_type="LIMIT",
        price=Decimal("65000.125"),
        quantity=Decimal("0.5"),
    )
    html = client.get("/execution/").content.decode()
    # Tick 0.01, but the stored price has a third decimal: shown exactly, not rounded away.
    assert "65,000.125" in html and "0.50000" in html


@pytest.mark.django_db
def test_fragment_renders_only_its_partial(client, role_users, rows):
    client.force_login(role_users[Role.VIEWER])
    html = client.get("/execution/", {"fragment": "active_orders"}).content.decode()
    assert html.lstrip().startswith('<section class="panel" id="active-orders"')
    assert "O-WEB-000001" in html and "<header" not in html
    assert client.get("/execution/", {"fragment": "nope"}).status_code == 404


@pytest.mark.django_db
def test_monitoring_service_table_runs_every_health_check(client, role_users):
    client.force_login(role_users[Role.VIEWER])
    html = client.get("/monitoring/", {"fragment": "services"}).content.decode()
    for name in ("postgres", "redis", "channel_layer", "nautilus", "risk_gate", "f8_integration", "data_feeds"):
        assert f'data-service="{name}"' in html


@pytest.mark.django_db
def test_audit_log_filters_by_action_and_text(client, role_users, rows):
    from monitoring.audit import audit_record

    audit_record(actor=role_users[Role.ADMIN], action="strategy.create", obj=rows.strategy)
    client.force_login(role_users[Role.VIEWER])
    html = client.get("/monitoring/audit/", {"action": "strategy.create"}).content.decode()
    assert "strategy.create" in html and "900000" not in html
    html = client.get("/monitoring/audit/", {"text": "max order"}).content.decode()
    assert "risk_limit.update" in html
    assert client.get("/monitoring/audit/", {"date_from": "not-a-date"}).status_code == 400


@pytest.mark.django_db
def test_execution_page_query_count_does_not_grow_with_orders(client, role_users, rows, django_assert_max_num_queries):
    client.force_login(role_users[Role.VIEWER])
    client.get("/execution/")  # warm the session/user caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get("/execution/")
    for i in range(30):
        make_order(client_order_id=f"O-N1-{i:04d}", order_type="LIMIT", price=Decimal("1.1"))
    with django_assert_max_num_queries(len(few)):
        client.get("/execution/")
