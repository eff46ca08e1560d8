"""Portfolio writes: force a reconciliation and resolve discrepancies (Risk Manager+), and the exports."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from monitoring.models import AuditLog
from monitoring.roles import Role
from portfolio.models import Discrepancy, Position
from trading.models import Account

pytestmark = pytest.mark.django_db


def engine_publishes(positions: dict[str, str]) -> None:
    """The engine's net positions exactly as the node publishes them (trading.node.desk_orders)."""
    from monitoring.redis_client import redis_client
    from trading.node.status import configured_trader_id

    redis_client().set(
        f"ni:node:{configured_trader_id()}:positions",
        json.dumps({"ts": time.time(), "positions": {k: {"quantity": v} for k, v in positions.items()}}),
    )


@pytest.fixture
def held(book):
    """SIM-001 is traded by a node and waits for a person; the engine agrees with the book except on
    EUR/USD (5,000 vs 6,000)."""
    book.reconciliation_policy = Account.ReconciliationPolicy.HOLD
    book.status = Account.Status.CONNECTED
    book.save(update_fields=["reconciliation_policy", "status"])
    engine_publishes({"EUR/USD.SIM": "5000", "AAPL.SIM": "100", "USD/JPY.SIM": "-20000"})
    return book


def test_force_reconciliation_shows_the_discrepancy_and_is_audited(held, client_for):
    client = client_for(Role.RISK_MANAGER)
    response = client.post("/portfolio/reconcile/")
    assert response.status_code == 302 and response["Location"].endswith("/portfolio/#sync")
    d = Discrepancy.objects.get()
    assert (d.instrument.instrument_id, d.book_quantity, d.engine_quantity) == ("EUR/USD.SIM", D("6000"), D("5000"))
    audit = AuditLog.objects.get(action="reconciliation.force")
    assert audit.actor_name == "risk" and audit.changes["state"][1] == "diverged"
    html = client.get("/portfolio/").content.decode()
    assert 'data-testid="sync-status" data-state="diverged"' in html
    assert 'data-testid="discrepancy-row" data-instrument="EUR/USD.SIM"' in html
    assert 'data-testid="accept-engine"' in html and 'data-testid="keep-book"' in html


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRADER])
def test_force_reconciliation_is_refused_below_risk_manager(held, client_for, role):
    assert client_for(role).post("/portfolio/reconcile/").status_code == 403
    assert not Discrepancy.objects.exists() and not AuditLog.objects.filter(action="reconciliation.force").exists()


def test_force_reconciliation_without_an_engine_view_reports_lagging(book, client_for):
    client = client_for(Role.RISK_MANAGER)
    client.post("/portfolio/reconcile/")
    html = client.get("/portfolio/").content.decode()
    assert 'data-state="lagging"' in html and "has not published positions" in html


def _open_discrepancy(client) -> Discrepancy:
    client.post("/portfolio/reconcile/")
    return Discrepancy.objects.get(resolution="")


def test_accept_engine_corrects_the_book(held, client_for):
    client = client_for(Role.RISK_MANAGER)
    d = _open_discrepancy(client)
    response = client.post(f"/portfolio/discrepancies/{d.pk}/resolve/", {"action": "accept_engine"})
    assert response.status_code == 302
    d.refresh_from_db()
    assert d.resolution == Discrepancy.Resolution.ACCEPT_ENGINE and d.resolved_by.username == "risk"
    net = sum(
        Position.objects.filter(account=held, instrument__instrument_id="EUR/USD.SIM").values_list(
            "quantity", flat=True
        )
    )
    assert net == D("5000")
    assert AuditLog.objects.filter(action="reconciliation.correct_book", actor_name="risk").exists()
    # Checked again, book and engine agree.
    client.post("/portfolio/reconcile/")
    html = client.get("/portfolio/").content.decode()
    assert 'data-state="synchronized"' in html and 'data-testid="no-discrepancies"' in html


def test_keep_book_leaves_the_book_alone(held, client_for):
    client = client_for(Role.ADMIN)
    d = _open_discrepancy(client)
    assert client.post(f"/portfolio/discrepancies/{d.pk}/resolve/", {"action": "keep_book"}).status_code == 302
    d.refresh_from_db()
    assert d.resolution == Discrepancy.Resolution.KEEP_BOOK
    net = sum(
        Position.objects.filter(account=held, instrument__instrument_id="EUR/USD.SIM").values_list(
            "quantity", flat=True
        )
    )
    assert net == D("6000")
    assert AuditLog.objects.filter(action="reconciliation.keep_book", actor_name="admin").exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRADER])
def test_resolution_is_refused_below_risk_manager(held, client_for, role):
    d = _open_discrepancy(client_for(Role.RISK_MANAGER))
    response = client_for(role).post(f"/portfolio/discrepancies/{d.pk}/resolve/", {"action": "accept_engine"})
    assert response.status_code == 403
    d.refresh_from_db()
    assert d.is_open
    html = client_for(role).get("/portfolio/").content.decode()
    assert 'data-testid="discrepancy-row"' in html and 'data-testid="accept-engine"' not in html


def test_resolution_rejects_an_unknown_action_a_second_resolution_and_a_missing_discrepancy(held, client_for):
    client = client_for(Role.RISK_MANAGER)
    d = _open_discrepancy(client)
    bad = client.post(f"/portfolio/discrepancies/{d.pk}/resolve/", {"action": "split_the_difference"})
    assert bad.status_code == 400 and 'data-field="action"' in bad.content.decode()
    assert client.post(f"/portfolio/discrepancies/{d.pk}/resolve/", {"action": "keep_book"}).status_code == 302
    again = client.post(f"/portfolio/discrepancies/{d.pk}/resolve/", {"action": "accept_engine"})
    assert again.status_code == 400 and "already resolved" in again.content.decode()
    assert client.post("/portfolio/discrepancies/999999/resolve/", {"action": "keep_book"}).status_code == 404
    assert client.get(f"/portfolio/discrepancies/{d.pk}/resolve/").status_code == 405


# -- trade history, attribution, compliance ------------------------------------------------------


@pytest.fixture
def fills(db):
    from tests.f8.support import fill
    from tests.factories import make_reference_data

    make_reference_data()
    fill(instrument="EUR/USD.SIM", qty="10000", px="1.08500", fee="2.17", ts=datetime(2026, 1, 5, 9, tzinfo=UTC))
    fill(instrument="EUR/USD.SIM", side="SELL", qty="4000", px="1.08600", ts=datetime(2026, 1, 6, 9, tzinfo=UTC))
    fill(instrument="AAPL.SIM", qty="10", px="190.25", ts=datetime(2026, 1, 6, 10, tzinfo=UTC))


def test_trade_history_lists_filters_and_exports(fills, client_for):
    client = client_for(Role.VIEWER)
    html = client.get("/portfolio/trades/").content.decode()
    assert html.count('data-testid="trade-row"') == 3
    assert client.get("/portfolio/trades/?instrument=AAPL.SIM").content.decode().count('data-testid="trade-row"') == 1
    response = client.get("/portfolio/trades/export.csv?instrument=EUR/USD.SIM&end=2026-01-05")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="trades-all-2026-01-06.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["side"], r["quantity"], r["price"], r["commission"]) for r in rows] == [
        ("BUY", "10000", "1.085", "2.17")
    ]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/portfolio/trades/?side=hold", "side"),
        ("/portfolio/trades/?start=yesterday", "start"),
        ("/portfolio/trades/?instrument=NOPE.SIM", "instrument"),
        ("/portfolio/trades/export.csv?account=nobody", "account"),
    ],
)
def test_trade_history_rejects_bad_filters_naming_the_field(fills, client_for, url, field):
    response = client_for(Role.VIEWER).get(url)
    assert response.status_code == 400 and field in response.content.decode()


def test_attribution_splits_the_period_by_every_dimension(fills, client_for):
    client = client_for(Role.VIEWER)
    page = client.get("/portfolio/attribution/?start=2026-01-05&end=2026-01-06").content.decode()
    # The page answers at once and fetches the replay of the fills as a fragment.
    assert 'hx-get="?start=2026-01-05&amp;end=2026-01-06&amp;fragment=results"' in page
    html = client.get("/portfolio/attribution/?start=2026-01-05&end=2026-01-06&fragment=results").content.decode()
    for dimension in ("strategy", "instrument", "sector", "day"):
        assert f'data-testid="attribution-{dimension}"' in html
    assert 'data-key="2026-01-05"' in html and 'data-key="AAPL.SIM"' in html
    # Selling 4,000 at 1.08600 bought at 1.08500 realises 4.00 USD.
    assert "realised +4.00" in html and "3 fills" in html
    bad = client_for(Role.VIEWER).get("/portfolio/attribution/?start=2026-02-01&end=2026-01-01")
    assert bad.status_code == 400 and 'data-field="end"' in bad.content.decode()


def test_compliance_report_downloads_as_csv_and_pdf(book, client_for, role_users):
    from portfolio.reconciliation import discrepancy_resolve

    book.reconciliation_policy = Account.ReconciliationPolicy.HOLD
    book.status = Account.Status.CONNECTED
    book.save(update_fields=["reconciliation_policy", "status"])
    engine_publishes({"EUR/USD.SIM": "1", "AAPL.SIM": "100", "USD/JPY.SIM": "-20000"})
    client = client_for(Role.VIEWER)
    client_for(Role.RISK_MANAGER).post("/portfolio/reconcile/")
    discrepancy_resolve(
        discrepancy_id=Discrepancy.objects.get().pk, user=role_users[Role.RISK_MANAGER], action="keep_book"
    )
    today = datetime.now(UTC).date().isoformat()
    html = client.get(f"/portfolio/compliance/?start={today}&end={today}").content.decode()
    assert 'data-testid="compliance-manual_reconciliations"' in html
    csv_response = client.get(f"/portfolio/compliance/?start={today}&end={today}&format=csv")
    assert csv_response.status_code == 200 and csv_response["Content-Type"].startswith("text/csv")
    assert "EUR/USD.SIM" in csv_response.content.decode()
    pdf = client.get(f"/portfolio/compliance/?start={today}&end={today}&format=pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert f'filename="compliance-{today}-{today}.pdf"' in pdf["Content-Disposition"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=2026-13-01", "start"),
        ("start=2026-02-01&end=2026-01-01", "end"),
        ("format=docx", "format"),
        ("start=2024-01-01&end=2026-01-01", "end"),
    ],
)
def test_compliance_rejects_a_bad_period_or_format(db, role_users, client_for, query, field):
    response = client_for(Role.VIEWER).get(f"/portfolio/compliance/?{query}")
    assert response.status_code == 400 and field in response.content.decode()


def test_compliance_csv_with_a_bad_period_is_a_plain_400(db, role_users, client_for):
    response = client_for(Role.VIEWER).get("/portfolio/compliance/?start=nope&format=csv")
    assert response.status_code == 400 and response.content.decode().startswith("start:")
