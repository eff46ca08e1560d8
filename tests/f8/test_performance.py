"""Equity snapshots valued with live FX, and the statistics on them, against hand-computed numbers."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from portfolio.models import CashBalance, PortfolioSnapshot
from portfolio.performance import (
    drawdown_curve,
    max_drawdown,
    performance_summary,
    portfolio_snapshot_take,
    sharpe_ratio,
    simple_returns,
    total_return,
    volatility,
)
from tests.f8.quotes import quotes_clear, quotes_set
from tests.f8.support import fill
from tests.factories import make_reference_data
from trading.models import Account

TEN = D("1e-10")


@pytest.fixture
def book(db):
    """SIM-001 (margin, USD): $1,000,000 and EUR 10,000 cash, long 10,000 EUR/USD @ 1.08, short 1,000 USD/JPY
    @ 151. BINANCE-SPOT (cash, USDT): 50,000 USDT and 0.5 BTC."""
    make_reference_data()
    sim, spot = Account.objects.get(name="SIM-001"), Account.objects.get(name="BINANCE-SPOT")
    CashBalance.objects.create(account=sim, currency="USD", total=D("1000000"))
    CashBalance.objects.create(account=sim, currency="EUR", total=D("10000"))
    CashBalance.objects.create(account=spot, currency="USDT", total=D("50000"))
    CashBalance.objects.create(account=spot, currency="BTC", total=D("0.5"))
    fill(instrument="EUR/USD.SIM", side="BUY", qty="10000", px="1.08000")
    fill(instrument="USD/JPY.SIM", side="SELL", qty="1000", px="151.000")
    quotes_set(EUR_USD=("1.0850", "1.0852"), USD_JPY=("151.400", "151.600"), BTC_USD=("65000.00", "65010.00"))
    return sim, spot


def test_snapshot_values_every_account_in_its_base_currency_and_the_desk_in_usd(book):
    sim, spot = book

    result = portfolio_snapshot_take(kind="intraday")

    assert result.missing == [] and result.rows == 3
    s = PortfolioSnapshot.objects.get(account=sim)
    # cash: 1,000,000 + 10,000 EUR x 1.0851 = 1,010,851
    assert (s.currency, s.cash) == ("USD", D("1010851"))
    # open P&L, the long at the bid and the short at the ask (what closing them fetches), converted at the
    # mid: EUR/USD 10,000 x (1.0850 - 1.08) = 50; USD/JPY -1,000 x (151.6 - 151) = -600 JPY = -600/151.5 USD
    assert s.unrealized_pnl == D("50") - (D(600) / D("151.5")).quantize(TEN) == D("46.0396039604")
    assert s.total_value == D("1010897.0396039604")
    # exposure: EUR/USD 10,850; USD/JPY -151,600 JPY = -1,000.66 USD
    assert (s.gross_exposure, s.net_exposure) == (D("11850.6600660066"), D("9849.3399339934"))
    # no history yet: the day is measured from the starting balance
    assert s.daily_pnl == D("10897.0396039604")

    b = PortfolioSnapshot.objects.get(account=spot)
    # 50,000 USDT + 0.5 BTC x 65,005 (USDT counts as USD)
    assert (b.currency, b.total_value) == ("USDT", D("82502.5"))

    desk = PortfolioSnapshot.objects.get(account=None)
    assert (desk.currency, desk.total_value) == ("USD", D("1093399.5396039604"))
    assert desk.cash == D("1093353.5")


def test_daily_snapshot_is_one_row_per_day_updated_in_place(book):
    sim, _ = book
    portfolio_snapshot_take(kind="daily")
    quotes_set(EUR_USD=("1.0950", "1.0952"))
    portfolio_snapshot_take(kind="daily")

    rows = PortfolioSnapshot.objects.filter(account=sim, kind="daily")
    assert rows.count() == 1
    # EUR cash re-valued at the mid 1.0951, the EUR/USD long re-marked at the bid 1.0950
    assert rows.get().total_value == D("1000000") + D("10951") + D("150") - (D(600) / D("151.5")).quantize(TEN)


def test_daily_pnl_is_measured_from_the_last_value_before_the_session(book):
    sim, _ = book
    yesterday = datetime.now(UTC) - timedelta(days=1)
    PortfolioSnapshot.objects.create(
        at=yesterday, kind="daily", account=sim, currency="USD", total_value=D("1010000"), cash=D("1010000")
    )
    portfolio_snapshot_take(kind="intraday")
    latest = PortfolioSnapshot.objects.filter(account=sim, kind="intraday").get()
    assert latest.daily_pnl == D("897.0396039604")


def test_an_account_without_a_rate_is_not_snapshotted_and_neither_is_the_desk(book):
    sim, spot = book
    quotes_clear("USD_JPY")

    result = portfolio_snapshot_take(kind="intraday")

    assert any("JPY" in m for m in result.missing)
    assert not PortfolioSnapshot.objects.filter(account=sim).exists()
    assert not PortfolioSnapshot.objects.filter(account=None).exists()
    assert PortfolioSnapshot.objects.filter(account=spot).exists()


def test_rejects_an_unknown_kind(db):
    with pytest.raises(ValueError, match="kind"):
        portfolio_snapshot_take(kind="weekly")


# -- statistics: returns 2%, 4%, -1%, 3% -------------------------------------------------------

VALUES = [D("100"), D("102"), D("106.08"), D("105.0192"), D("108.169776")]


def test_returns_and_total_return():
    assert simple_returns(VALUES) == [D("0.02"), D("0.04"), D("-0.01"), D("0.03")]
    assert total_return(VALUES) == D("0.08169776")


def test_volatility_is_the_sample_standard_deviation():
    # mean 0.02; squared deviations 0, 0.0004, 0.0009, 0.0001 -> 0.0014 / 3
    returns = simple_returns(VALUES)
    assert volatility(returns).quantize(TEN) == D("0.0216024690")  # sqrt(0.0014/3)
    assert volatility(returns, periods_per_year=252).quantize(TEN) == D("0.3429285640")  # sqrt(0.1176)


def test_sharpe_ratio():
    returns = simple_returns(VALUES)
    # 0.02 / sqrt(0.0014/3) = 0.9258200998; x sqrt(252) = 0.02 x sqrt(540000) = 14.6969384567
    assert sharpe_ratio(returns, periods_per_year=None).quantize(TEN) == D("0.9258200998")
    assert sharpe_ratio(returns).quantize(TEN) == D("14.6969384567")
    # with a risk-free 1% per period: 0.01 / 0.0216024690 x sqrt(252) = 7.3484692283
    assert sharpe_ratio(returns, risk_free_per_period=D("0.01")).quantize(TEN) == D("7.3484692283")
    assert sharpe_ratio([D("0.01"), D("0.01")]) is None  # no dispersion: undefined, not infinite


def test_drawdown_curve_and_maximum():
    values = [D(100), D(120), D(90), D(110), D(80), D(130)]
    curve = [d.quantize(TEN) for d in drawdown_curve(values)]
    assert curve == [D(0), D(0), D("-0.25"), D("-0.0833333333"), D("-0.3333333333"), D(0)]
    dd = max_drawdown(values)
    assert (dd.fraction.quantize(TEN), dd.amount, dd.peak_index, dd.trough_index) == (
        D("0.3333333333"),
        D(40),
        1,
        4,
    )


def test_performance_summary_reads_the_daily_history(db):
    start = datetime(2026, 1, 5, 21, tzinfo=UTC)
    for i, v in enumerate(VALUES):
        PortfolioSnapshot.objects.create(
            at=start + timedelta(days=i), kind="daily", account=None, currency="USD", total_value=v, cash=v
        )
    summary = performance_summary()
    assert summary["points"] == 5
    assert summary["total_return"] == "0.081698"
    assert summary["sharpe"] == "14.6969"
    assert summary["max_drawdown"] == "0.010000"
    assert summary["drawdown"][3]["value"] == "-0.010000"
    assert summary["series"][0] == {"at": start.isoformat(), "value": "100.0000000000"}
