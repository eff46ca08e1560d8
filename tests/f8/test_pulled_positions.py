"""Positions pulled from F8 that differ from the book become F8 discrepancies, never corrections."""

from decimal import Decimal as D

import pytest

from monitoring.models import Alert
from monitoring.roles import Role
from portfolio.f8.sync import f8_sync_run
from portfolio.models import Discrepancy, Position
from portfolio.reconciliation import discrepancy_resolve
from tests.f8.support import fill
from tests.factories import make_reference_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(f8_settings, fake_f8, make_client):
    """A book with 10,000 EUR/USD whose pushes F8 has already taken."""
    make_reference_data()
    fill(qty="10000", px="1.08500")
    client = make_client()
    assert f8_sync_run(client=client)["state"] == "ok"
    assert not Discrepancy.objects.exists()
    return client


def test_differences_are_recorded_and_alerted_after_a_second_sighting(synced, fake_f8):
    fake_f8.positions_override = [
        {"account": "SIM-001", "instrument_id": "EUR/USD.SIM", "quantity": "5000"},
        {"account": "SIM-001", "instrument_id": "GBP/USD.SIM", "quantity": "-2000"},
    ]

    first = f8_sync_run(client=synced)

    assert first["pulled"]["positions"]["new"] == 2
    rows = {d.instrument.instrument_id: d for d in Discrepancy.objects.filter(source="f8")}
    assert (rows["EUR/USD.SIM"].book_quantity, rows["EUR/USD.SIM"].engine_quantity) == (D("10000"), D("5000"))
    assert (rows["GBP/USD.SIM"].book_quantity, rows["GBP/USD.SIM"].engine_quantity) == (D("0"), D("-2000"))
    assert not Alert.objects.filter(dedup_key__startswith="f8:position:").exists()

    f8_sync_run(client=synced)

    assert Alert.objects.filter(dedup_key__startswith="f8:position:", status="open").count() == 2
    # The book is the record: F8 never corrects it by itself.
    assert Position.objects.get(instrument__instrument_id="EUR/USD.SIM").quantity == D("10000")
    assert not Position.objects.filter(instrument__instrument_id="GBP/USD.SIM").exists()


def test_a_difference_that_goes_away_converges_and_its_alert_resolves(synced, fake_f8):
    fake_f8.positions_override = [{"account": "SIM-001", "instrument_id": "EUR/USD.SIM", "quantity": "5000"}]
    f8_sync_run(client=synced)
    f8_sync_run(client=synced)
    assert Alert.objects.filter(dedup_key__startswith="f8:position:", status="open").count() == 1

    fake_f8.positions_override = None  # F8 back to what we pushed
    result = f8_sync_run(client=synced)

    assert result["pulled"]["positions"]["converged"] == 1
    assert Discrepancy.objects.get(source="f8").resolution == "converged"
    assert not Alert.objects.filter(dedup_key__startswith="f8:position:").exclude(status="resolved").exists()


def test_no_comparison_while_our_own_pushes_are_still_queued(synced, fake_f8):
    fake_f8.mode = "failing"
    fill(qty="2000", px="1.08600")  # F8 cannot know about this one yet
    f8_sync_run(client=synced)
    fake_f8.mode = "healthy"
    fake_f8.positions_override = [{"account": "SIM-001", "instrument_id": "EUR/USD.SIM", "quantity": "10000"}]
    synced.breaker.reset()

    # Pushes drain first; then the pull sees F8's (overridden, stale) 10,000 against our 12,000.
    result = f8_sync_run(client=synced)
    assert result["pulled"]["positions"]["new"] == 1


def test_unknown_accounts_or_instruments_are_alerted_and_the_rest_still_compared(synced, fake_f8):
    fake_f8.positions_override = [
        {"account": "SIM-001", "instrument_id": "EUR/USD.SIM", "quantity": "7000"},
        {"account": "SIM-001", "instrument_id": "DOGE/USD.SIM", "quantity": "1"},
        {"account": "NOBODY", "instrument_id": "EUR/USD.SIM", "quantity": "1"},
    ]

    result = f8_sync_run(client=synced)

    assert result["pulled"]["positions"]["unknown"] == 2
    alert = Alert.objects.get(dedup_key="f8:unknown-positions")
    assert "DOGE/USD.SIM" in alert.message and "NOBODY" in alert.message
    assert Discrepancy.objects.get(source="f8").engine_quantity == D("7000")


def test_a_person_can_take_f8s_quantity_or_keep_the_book(synced, fake_f8, role_users):
    fake_f8.positions_override = [{"account": "SIM-001", "instrument_id": "EUR/USD.SIM", "quantity": "4000"}]
    f8_sync_run(client=synced)
    discrepancy = Discrepancy.objects.get(source="f8")

    discrepancy_resolve(discrepancy_id=discrepancy.pk, user=role_users[Role.RISK_MANAGER], action="accept_engine")

    total = sum(Position.objects.filter(instrument__instrument_id="EUR/USD.SIM").values_list("quantity", flat=True))
    assert total == D("4000")
    assert Discrepancy.objects.get(pk=discrepancy.pk).resolved_by == role_users[Role.RISK_MANAGER]
