"""The attribution from stored days equals a replay of every fill, for any period, after late fills too."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal as D

import pytest

from portfolio.attribution import DIMENSIONS, attribution_ledger_refresh, pnl_attribution
from portfolio.models import AttributionCheckpoint, AttributionDay, AttributionLedger
from tests.f8.support import fill
from tests.factories import make_reference_data
from trading.market_data.quotes import Quote

pytestmark = pytest.mark.django_db


def _today():
    # Read per test, not at import: a run that crosses midnight UTC must not compare with yesterday.
    return datetime.now(UTC).date()


QUOTES = {
    iid: Quote(iid, D(bid), D(ask), None, 0, "SIM")
    for iid, bid, ask in [
        ("EUR/USD.SIM", "1.08600", "1.08604"),
        ("USD/JPY.SIM", "151.200", "151.206"),
        ("AAPL.SIM", "191.00", "191.04"),
    ]
}


def _at(days_ago: int, hour: int) -> datetime:
    return datetime.combine(_today() - timedelta(days=days_ago), time(hour), tzinfo=UTC)


def _midnight(days_ago: int) -> datetime:
    return _at(days_ago, 0)


def _history() -> None:
    """Five days of trading in USD and JPY, with fees, partial closes and flips, on two accounts."""
    from strategies.models import Strategy

    make_reference_data()
    momentum = Strategy.objects.create(name="Momentum", strategy_type="ema_cross")
    legs = [
        (4, 9, dict(instrument="EUR/USD.SIM", side="BUY", qty="10000", px="1.08000", fee="2.16")),
        (4, 15, dict(instrument="USD/JPY.SIM", side="SELL", qty="3000", px="151.500", fee="9", fee_ccy="JPY")),
        (3, 10, dict(instrument="EUR/USD.SIM", side="SELL", qty="4000", px="1.08310", fee="0.87")),
        (3, 23, dict(instrument="USD/JPY.SIM", side="BUY", qty="5000", px="151.100", fee="15", fee_ccy="JPY")),
        (2, 8, dict(instrument="EUR/USD.SIM", side="SELL", qty="9000", px="1.08420", fee="1.95", strategy=momentum)),
        (2, 11, dict(instrument="AAPL.SIM", side="BUY", qty="50", px="190.10", fee="0.95", account="SIM-DEMO")),
        (1, 13, dict(instrument="EUR/USD.SIM", side="BUY", qty="2000", px="1.08150", fee="0.43", strategy=momentum)),
        (1, 16, dict(instrument="AAPL.SIM", side="SELL", qty="80", px="191.30", fee="1.53", account="SIM-DEMO")),
        (0, 0, dict(instrument="USD/JPY.SIM", side="SELL", qty="1000", px="151.350", fee="3", fee_ccy="JPY")),
        (0, 0, dict(instrument="EUR/USD.SIM", side="SELL", qty="6000", px="1.08500", fee="1.30")),
    ]
    for days_ago, hour, leg in legs:
        fill(ts=_at(days_ago, hour), **leg)


def _figures(attribution) -> dict:
    def row(r):
        return (*(v.quantize(D("1e-8")) for v in (r.realized, r.commissions, r.unrealized)), r.fills)

    return {
        "total": row(attribution.total),
        **{d: {r.key: row(r) for r in attribution.rows(d)} for d in DIMENSIONS},
        "missing": sorted(set(attribution.missing)),
    }


def _same_as_full_replay(**period) -> dict:
    stored = _figures(pnl_attribution(quotes=QUOTES, **period))
    assert stored == _figures(pnl_attribution(quotes=QUOTES, use_ledger=False, **period)), period
    return stored


# (days ago, hour) pairs, turned into times when the test runs.
PERIODS = [
    {},
    {"start": (3, 0)},
    {"start": (3, 0), "end": (1, 0)},
    {"start": (4, 0), "end": (3, 0)},
    {"start": (2, 10)},  # not at midnight: the first day is replayed from its checkpoint
    {"start": (3, 12), "end": (1, 14)},
    {"start": (0, 0)},
    {"end": (2, 0)},
]


@pytest.mark.parametrize(
    "spec", PERIODS, ids=lambda p: ",".join(f"{k}=-{d}d {h:02d}h" for k, (d, h) in p.items()) or "all"
)
def test_stored_days_give_the_full_replays_figures(spec):
    _history()
    today = _today()

    figures = _same_as_full_replay(**{key: _at(*when) for key, when in spec.items()})

    assert AttributionLedger.objects.get().through == today
    assert AttributionDay.objects.filter(day=today - timedelta(days=4)).exists()
    assert not AttributionDay.objects.filter(day=today).exists()  # today is replayed, never stored
    # Each book's newest checkpoint, and only it, is where the replay of today starts.
    newest = {}
    for c in AttributionCheckpoint.objects.order_by("day"):
        newest[(c.account_id, c.instrument_id, c.strategy_id)] = c.pk
    assert set(AttributionCheckpoint.objects.filter(latest=True).values_list("pk", flat=True)) == set(newest.values())
    assert figures["total"][3] > 0


def test_one_account_alone_matches_its_full_replay():
    from trading.models import Account

    _history()
    for name in ("SIM-001", "SIM-DEMO"):
        account_id = Account.objects.get(name=name).pk
        assert _same_as_full_replay(account_id=account_id, start=_midnight(3))["total"][3] > 0


def test_a_late_fill_for_a_stored_day_rebuilds_from_that_day():
    _history()
    before = _same_as_full_replay(start=_midnight(4))

    fill(ts=_at(3, 12), instrument="EUR/USD.SIM", side="BUY", qty="1000", px="1.08200", fee="0.22")

    after = _same_as_full_replay(start=_midnight(4))
    day = (_today() - timedelta(days=3)).isoformat()
    assert after["day"][day][3] == before["day"][day][3] + 1
    assert after["total"] != before["total"]


def test_a_fill_committed_out_of_id_order_is_caught_by_the_thorough_refresh():
    from django.db.models import Max

    from trading.models import Fill

    _history()
    attribution_ledger_refresh()
    fill(ts=_at(2, 12), instrument="USD/JPY.SIM", side="BUY", qty="1000", px="151.250", fee="3", fee_ccy="JPY")
    # As if that fill's transaction had committed after the refresh had already seen a higher id.
    AttributionLedger.objects.update(fill_id=Fill.objects.aggregate(m=Max("id"))["m"])

    attribution_ledger_refresh(thorough=True)

    assert _same_as_full_replay(start=_midnight(4))["day"][(_today() - timedelta(days=2)).isoformat()][3] == 3


def test_attribution_without_redis_reports_what_it_could_not_value(restart_redis_after):
    _history()
    restart_redis_after.stop()

    attribution = pnl_attribution(start=_midnight(4), end=_midnight(2))

    assert "live quotes unavailable (Redis): FX rates and marks of open positions" in attribution.missing
    assert "no JPY/USD rate for USD/JPY.SIM" in attribution.missing
    assert attribution.total.fills == 4 and attribution.by["instrument"]["EUR/USD.SIM"].realized != 0
