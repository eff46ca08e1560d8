"""Limits pulled from F8 are recorded and compared; ours are never overwritten; stricter ones alert."""

from decimal import Decimal as D

import pytest

from monitoring.models import Alert
from portfolio.f8.sync import f8_sync_run
from portfolio.models import F8Limit
from risk.models import RiskLimit
from tests.factories import make_reference_data
from trading.models import Account, Instrument

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(f8_settings):
    make_reference_data()
    sim = Account.objects.get(name="SIM-001")
    eur = Instrument.objects.get(instrument_id="EUR/USD.SIM")
    return {
        "qty": RiskLimit.objects.create(name="Max order qty", kind="max_order_quantity", value=D("1000000")),
        "loss": RiskLimit.objects.create(
            name="SIM daily loss", kind="daily_loss", value=D("50000"), scope="account", account=sim
        ),
        "free": RiskLimit.objects.create(name="Min free", kind="min_free_balance", value=D("10000")),
        "pos": RiskLimit.objects.create(
            name="EUR max pos", kind="max_position_size", value=D("1000000"), scope="instrument", instrument=eur
        ),
    }


F8_LIMITS = [
    {"id": "L1", "scope": "global", "target": None, "kind": "max_order_quantity", "value": "500000"},
    {"id": "L2", "scope": "account", "target": "SIM-001", "kind": "daily_loss", "value": "50000", "currency": "USD"},
    {"id": "L3", "scope": "global", "target": None, "kind": "min_free_balance", "value": "20000"},
    {"id": "L4", "scope": "sector", "target": "technology", "kind": "max_position_notional", "value": "100000"},
    {"id": "L5", "scope": "account", "target": "NOPE", "kind": "daily_loss", "value": "1"},
    {"id": "L6", "scope": "instrument", "target": "EUR/USD.SIM", "kind": "max_position_size", "value": "2000000"},
]


def test_each_pulled_limit_is_compared_with_our_strictest_and_ours_stay_as_they_were(limits, fake_f8, make_client):
    fake_f8.limits = F8_LIMITS

    report = f8_sync_run(client=make_client())

    assert report["state"] == "ok"
    got = dict(F8Limit.objects.values_list("f8_id", "comparison"))
    assert got == {
        "L1": "stricter",
        "L2": "matches",
        "L3": "stricter",
        "L4": "missing_locally",
        "L5": "unknown_target",
        "L6": "looser",
    }
    assert F8Limit.objects.get(f8_id="L1").local_limit == limits["qty"]
    assert F8Limit.objects.get(f8_id="L1").local_value == D("1000000")
    assert {k: RiskLimit.objects.get(pk=v.pk).value for k, v in limits.items()} == {
        "qty": D("1000000"),
        "loss": D("50000"),
        "free": D("10000"),
        "pos": D("1000000"),
    }
    risk_alerts = Alert.objects.filter(dedup_key__startswith="f8:limit:", category="risk", status="open")
    assert sorted(a.details["f8_id"] for a in risk_alerts) == ["L1", "L3", "L4"]
    assert Alert.objects.get(dedup_key="f8:limit:L5").category == "data"


def test_pulling_again_raises_no_duplicate_alert_and_relaxing_resolves_it(limits, fake_f8, make_client):
    client = make_client()
    fake_f8.limits = F8_LIMITS[:1]
    f8_sync_run(client=client)
    f8_sync_run(client=client)
    assert Alert.objects.filter(dedup_key="f8:limit:L1").count() == 1

    fake_f8.limits = [{**F8_LIMITS[0], "value": "1000000"}]
    f8_sync_run(client=client)

    assert F8Limit.objects.get(f8_id="L1").comparison == "matches"
    assert Alert.objects.get(dedup_key="f8:limit:L1").status == "resolved"


def test_a_limit_f8_no_longer_holds_is_forgotten(limits, fake_f8, make_client):
    client = make_client()
    fake_f8.limits = F8_LIMITS[:2]
    f8_sync_run(client=client)
    fake_f8.limits = F8_LIMITS[1:2]
    f8_sync_run(client=client)
    assert list(F8Limit.objects.values_list("f8_id", flat=True)) == ["L2"]
