"""The compliance report: counts per section for a period, CSV and PDF exports."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from monitoring.audit import audit_record
from monitoring.models import Alert
from monitoring.roles import Role
from portfolio.compliance import compliance_report, compliance_report_csv, compliance_report_pdf
from portfolio.models import Discrepancy
from portfolio.reconciliation import discrepancy_resolve
from risk.models import KillSwitch, KillSwitchEvent, RiskDecision, RiskLimit
from tests.factories import make_order, make_reference_data
from trading.lifecycle import order_transition, path_to
from trading.models import Account, Instrument

pytestmark = pytest.mark.django_db


@pytest.fixture
def period(role_users):
    make_reference_data()
    risk_manager = role_users[Role.RISK_MANAGER]
    old = timezone.now() - timedelta(days=10)
    # limit breaches: two in the period, one older, one of another category
    Alert.objects.create(category="risk", severity="critical", title="Daily loss at 105% of limit")
    Alert.objects.create(category="risk", title="Sector exposure 61% > 60%")
    Alert.objects.filter(pk=Alert.objects.create(category="risk", title="Old breach").pk).update(created_at=old)
    Alert.objects.create(category="data", title="Stale feed")
    # kill switch: engaged automatically, released by a person
    ks = KillSwitch.objects.create(engaged=False)
    KillSwitchEvent.objects.create(kill_switch=ks, engaged=True, mode="halt", reason="daily loss", automatic=True)
    KillSwitchEvent.objects.create(kill_switch=ks, engaged=False, mode="halt", reason="reviewed", actor=risk_manager)
    # overrides: a person editing a limit and releasing the switch; a system action does not count
    limit = RiskLimit.objects.create(name="Max qty", kind="max_order_quantity", value=D("1000"))
    audit_record(actor=risk_manager, action="risk_limit.update", obj=limit, changes={"value": ["1000", "5000"]})
    audit_record(actor=risk_manager, action="kill_switch.disengage", obj=ks, message="reviewed")
    audit_record(actor=None, action="risk_limit.update", obj=limit, changes={"value": ["5000", "6000"]})
    # rejected orders: one by the gate with its reasons, one by the venue
    gate = make_order()
    _walk(gate, "REJECTED", "over max quantity")
    RiskDecision.objects.create(order=gate, approved=False, reason_codes=["MAX_ORDER_QUANTITY"])
    _walk(make_order(), "VENUE_REJECTED", "no liquidity")
    # reconciliations: one by a person, one converged by itself
    account = Account.objects.get(name="SIM-001")
    eur, gbp = Instrument.objects.get(instrument_id="EUR/USD.SIM"), Instrument.objects.get(instrument_id="GBP/USD.SIM")
    d = Discrepancy.objects.create(account=account, instrument=eur, book_quantity=D(1000), engine_quantity=D(0))
    discrepancy_resolve(discrepancy_id=d.pk, user=risk_manager, action="keep_book")
    Discrepancy.objects.create(
        account=account,
        instrument=gbp,
        book_quantity=D(1),
        engine_quantity=D(1),
        resolution="converged",
        resolved_at=timezone.now(),
    )
    now = timezone.now()
    return now - timedelta(hours=1), now + timedelta(hours=1)


def _walk(order, to_status, message):
    """Move an order along the real state machine."""
    for status in path_to(order.status, to_status):
        order_transition(order, status, message=message if status == to_status else "")


EXPECTED = {
    "limit_breaches": 2,
    "kill_switch_events": 2,
    "overrides": 2,
    "rejected_orders": 2,
    "manual_reconciliations": 1,
}


def test_counts_each_section_within_the_period(period):
    report = compliance_report(start=period[0], end=period[1])
    assert report.counts == EXPECTED
    kills = report.section("kill_switch_events").rows
    assert [r[2] for r in kills] == ["engaged", "released"] and kills[0][4] == "automatic"
    rejected = {r[1]: r for r in report.section("rejected_orders").rows}
    assert any(r[8] == "MAX_ORDER_QUANTITY" for r in rejected.values())
    assert report.section("manual_reconciliations").rows[0][-1] == "risk"


def test_an_earlier_period_is_empty(period):
    report = compliance_report(start=period[0] - timedelta(days=30), end=period[0] - timedelta(days=20))
    assert set(report.counts.values()) == {0}


def test_csv_carries_the_period_counts_and_rows(period):
    report = compliance_report(start=period[0], end=period[1])
    rows = list(csv.reader(io.StringIO(compliance_report_csv(report))))
    header = {r[0]: r[1] for r in rows[:9] if len(r) == 2}
    assert header["period start"] == period[0].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert header["Limit breaches (count)"] == "2"
    assert header["Rejected orders (count)"] == "2"
    assert sum(1 for r in rows if r and r[0] == "overrides") == 2
    assert any(r[:1] == ["limit_breaches"] and "Daily loss at 105% of limit" in r for r in rows)


def test_pdf_parses_and_states_the_period_and_counts(period):
    from pypdf import PdfReader

    report = compliance_report(start=period[0], end=period[1])
    pdf = compliance_report_pdf(report)

    assert pdf.startswith(b"%PDF-")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert report.period_label in text
    for title, count in [
        ("Limit breaches", 2),
        ("Kill-switch events", 2),
        ("Overrides", 2),
        ("Rejected orders", 2),
        ("Manual reconciliations", 1),
    ]:
        assert f"{title} ({count})" in text
    # a long code may wrap inside its table cell
    assert "MAX_ORDER_QUANTITY" in re.sub(r"\s", "", text)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "end"),
        (datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC), "start"),
        ("2026-01-01", datetime(2026, 1, 2, tzinfo=UTC), "start"),
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), "end"),
    ],
)
def test_rejects_a_bad_period_naming_the_field(db, start, end, field):
    with pytest.raises(ValidationError) as exc:
        compliance_report(start=start, end=end)
    assert field in exc.value.message_dict
