"""F8 sync: the book against the engine's view, and what each policy does with a difference."""

import time
from decimal import Decimal as D

import pytest

from monitoring.models import Alert, AuditLog
from monitoring.roles import Role
from portfolio.models import Discrepancy, Position
from portfolio.reconciliation import EngineView, discrepancy_resolve, reconcile
from tests.factories import make_reference_data
from trading.models import Account, Instrument

pytestmark = pytest.mark.django_db


@pytest.fixture
def book():
    make_reference_data()
    account = Account.objects.get(name="SIM-001")
    eurusd = Instrument.objects.get(instrument_id="EUR/USD.SIM")
    Position.objects.create(account=account, instrument=eurusd, quantity=D("10000"), avg_price=D("1.085"))
    return account


def _engine(**positions):
    return EngineView(at=time.time(), positions={k.replace("_", "/") + ".SIM": D(v) for k, v in positions.items()})


def test_matching_book_and_engine_record_nothing(book):
    result = reconcile(account=book, engine=_engine(EUR_USD="10000"))
    assert result["open"] == 0 and not Discrepancy.objects.exists()


def test_engine_wins_corrects_the_book_only_after_a_second_sighting(book):
    engine = _engine(EUR_USD="15000", GBP_USD="-2000")

    first = reconcile(account=book, engine=engine)
    assert first["new"] == 2 and first["corrected"] == 0
    assert Position.objects.get(account=book, instrument__instrument_id="EUR/USD.SIM").quantity == D("10000")

    second = reconcile(account=book, engine=engine)
    assert second["corrected"] == 2
    totals = {p.instrument.instrument_id: p.quantity for p in Position.objects.filter(account=book)}
    assert totals == {"EUR/USD.SIM": D("15000"), "GBP/USD.SIM": D("-2000")}
    assert set(Discrepancy.objects.values_list("resolution", flat=True)) == {"engine_wins"}
    assert AuditLog.objects.filter(action="reconciliation.correct_book").count() == 2


def test_events_in_flight_hold_the_correction(book):
    engine = _engine(EUR_USD="15000")
    reconcile(account=book, engine=engine, in_flight=3)
    reconcile(account=book, engine=engine, in_flight=3)
    assert Discrepancy.objects.get().is_open
    assert Position.objects.get(account=book).quantity == D("10000")


def test_hold_policy_waits_for_a_person_and_alerts_once(book, role_users):
    book.reconciliation_policy = Account.ReconciliationPolicy.HOLD
    book.save()
    engine = _engine(EUR_USD="12000")
    for _ in range(4):
        reconcile(account=book, engine=engine)
    discrepancy = Discrepancy.objects.get()
    assert discrepancy.is_open and discrepancy.sightings == 4
    assert Alert.objects.filter(source="reconciliation").count() == 1

    discrepancy_resolve(discrepancy_id=discrepancy.pk, user=role_users[Role.RISK_MANAGER], action="accept_engine")

    assert Position.objects.get(account=book, strategy=None).quantity == D("12000")
    discrepancy.refresh_from_db()
    assert discrepancy.resolution == "accept_engine"
    assert Alert.objects.get(source="reconciliation").status == "resolved"


def test_trader_cannot_resolve_a_discrepancy(book, role_users):
    reconcile(account=book, engine=_engine(EUR_USD="1000"))
    with pytest.raises(PermissionError):
        discrepancy_resolve(
            discrepancy_id=Discrepancy.objects.get().pk, user=role_users[Role.TRADER], action="keep_book"
        )


def test_a_difference_that_goes_away_is_marked_converged(book):
    reconcile(account=book, engine=_engine(EUR_USD="11000"))
    reconcile(account=book, engine=_engine(EUR_USD="10000"))
    assert Discrepancy.objects.get().resolution == "converged"
