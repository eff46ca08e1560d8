"""P&L attribution: hand-computed realised and open P&L, and every breakdown sums to the total."""

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from portfolio.attribution import DIMENSIONS, pnl_attribution
from strategies.models import Strategy
from tests.f8.quotes import quotes_set
from tests.f8.support import fill
from tests.factories import make_reference_data

pytestmark = pytest.mark.django_db
TEN = D("1e-10")
DAY1 = datetime(2026, 1, 5, 14, tzinfo=UTC)
DAY2 = datetime(2026, 1, 6, 14, tzinfo=UTC)


@pytest.fixture
def trades():
    """S1 round-trips EUR/USD (+100 gross, 4 fees); S2 shorts USD/JPY and half covers (+500 JPY), buys AAPL."""
    make_reference_data()
    s1 = Strategy.objects.create(name="MR EURUSD", strategy_type="mean_reversion")
    s2 = Strategy.objects.create(name="Trend", strategy_type="ema_cross")
    fill(instrument="EUR/USD.SIM", side="BUY", qty="10000", px="1.08000", fee="2", strategy=s1, ts=DAY1)
    fill(instrument="USD/JPY.SIM", side="SELL", qty="1000", px="151.000", strategy=s2, ts=DAY1)
    fill(instrument="EUR/USD.SIM", side="SELL", qty="10000", px="1.09000", fee="2", strategy=s1, ts=DAY2)
    fill(instrument="USD/JPY.SIM", side="BUY", qty="500", px="150.000", strategy=s2, ts=DAY2)
    fill(instrument="AAPL.SIM", side="BUY", qty="10", px="190.00", fee="1", strategy=s2, ts=DAY2)
    quotes_set(EUR_USD=("1.0850", "1.0852"), USD_JPY=("151.400", "151.600"), AAPL=("190.00", "190.20"))


JPY_REALIZED = D(500) / D("151.5")  # 500 JPY realised on the cover, at today's USD/JPY mid
JPY_OPEN = D(-250) / D("151.5")  # -500 USD/JPY still short from 151, marked at 151.5


def test_hand_computed_totals(trades):
    a = pnl_attribution()

    assert a.missing == []
    assert a.total.fills == 5
    assert a.total.realized.quantize(TEN) == (D(100) + JPY_REALIZED).quantize(TEN)
    assert a.total.commissions == D(5)
    assert a.total.unrealized.quantize(TEN) == (D(1) + JPY_OPEN).quantize(TEN)  # AAPL 10 x 0.10
    by_strategy = {r.key: r.total.quantize(TEN) for r in a.rows("strategy")}
    assert by_strategy["MR EURUSD"] == D(96)
    assert by_strategy["Trend"] == (JPY_REALIZED + JPY_OPEN).quantize(TEN)  # AAPL: +1 open, -1 fee
    by_sector = {r.key: r.total.quantize(TEN) for r in a.rows("sector")}
    assert by_sector["Technology"] == D(0)


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_every_breakdown_sums_to_the_total(trades, dimension):
    a = pnl_attribution()
    rows = a.rows(dimension)
    assert sum((r.total for r in rows), D(0)) == a.total.total
    assert sum((r.realized for r in rows), D(0)) == a.total.realized
    assert sum((r.commissions for r in rows), D(0)) == a.total.commissions
    assert sum(r.fills for r in rows) == a.total.fills


def test_by_day_books_fills_on_their_day_and_open_pnl_on_the_valuation_day(trades):
    days = {r.key: r for r in pnl_attribution().rows("day")}
    assert days["2026-01-05"].total == D(-2)
    assert days["2026-01-06"].total.quantize(TEN) == (D(100) + JPY_REALIZED - D(3)).quantize(TEN)
    today = datetime.now(UTC).date().isoformat()
    assert days[today].unrealized.quantize(TEN) == (D(1) + JPY_OPEN).quantize(TEN)


def test_a_period_counts_its_own_fills_at_the_cost_built_before_it(trades):
    a = pnl_attribution(start=DAY2.replace(hour=0), end=DAY2.replace(hour=23))
    eur = {r.key: r for r in a.rows("instrument")}["EUR/USD.SIM"]
    # the round trip's opening leg is outside the period, its average price is not
    assert (eur.realized, eur.commissions, eur.fills) == (D(100), D(2), 1)
    assert a.total.unrealized == D(0)  # a closed period has no open P&L


def test_rejects_a_period_that_ends_before_it_starts(db):
    with pytest.raises(ValidationError) as exc:
        pnl_attribution(start=DAY2, end=DAY1)
    assert "end" in exc.value.message_dict
