"""The Portfolio page: the book across currencies, totals to the cent, pages, sorting, constant queries."""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.roles import Role
from portfolio import selectors

pytestmark = pytest.mark.django_db


def _cells(html: str, testid: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(rf'data-testid="{testid}"[^>]*>(.*?)</td>', html, re.S)
    ]


def test_totals_per_currency_are_exact_to_the_cent(book):
    page = selectors.position_page()
    totals = {t.currency: t for t in page.totals}
    assert set(totals) == {"USD", "JPY"}
    usd, jpy = totals["USD"], totals["JPY"]
    assert (usd.positions, usd.unrealized, usd.gross, usd.realized) == (3, D("1053.60"), D("34199.40"), D("10.24"))
    assert usd.net == D("10849.00") - D("4340.40") + D("19010.00")
    assert (jpy.positions, jpy.unrealized, jpy.gross, jpy.net) == (1, D("-25020.00"), D("3025020.00"), D("-3025020.00"))
    assert page.count == 4  # the flat MSFT row is not a holding


def test_rows_carry_live_marks_equity_share_and_var_contribution(book):
    rows = {(r.instrument_id, r.strategy_id is None): r for r in selectors.position_page().rows}
    long_eur = rows[("EUR/USD.SIM", True)]
    # A long is marked at the bid, a short at the ask: what closing it fetches, as the engine does.
    assert (long_eur.mark, long_eur.mark_live, long_eur.unrealized) == (D("1.08490"), True, D("49.00"))
    short_eur = rows[("EUR/USD.SIM", False)]
    assert (short_eur.mark, short_eur.unrealized) == (D("1.08510"), D("19.60"))
    # The risk run saw a net 6,000 EUR/USD with a VaR of 300: each slice carries its share.
    assert long_eur.var_95 == D("500.00")
    assert rows[("EUR/USD.SIM", False)].var_95 == D("-200.00")
    aapl = rows[("AAPL.SIM", True)]
    assert (aapl.mark, aapl.mark_live, aapl.unrealized, aapl.var_95) == (D("190.10"), False, D("985.00"), None)
    assert aapl.pct_equity == D("1.90")  # 19,010 of 1,000,000
    # -3,025,020 JPY at 151.25 JPY per USD is -20,000.13 USD: -2% of the account.
    assert rows[("USD/JPY.SIM", True)].pct_equity == D("-2.00")


def test_page_shows_cards_positions_and_totals(book, client_for):
    response = client_for(Role.VIEWER).get("/portfolio/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "1,250,000.50" in html and "-1,234.56" in html  # total value, daily P&L of the desk snapshot
    assert "1,000,000.00" in html and "250,000.00" in html  # cash in USD and EUR
    assert html.count('data-testid="position-row"') == 4
    # One totals row per currency, alphabetical: JPY, USD.
    assert _cells(html, "total-unrealized") == ["-25,020.00", "+1,053.60"]
    assert _cells(html, "total-gross") == ["3,025,020.00", "34,199.40"]
    assert _cells(html, "total-realized") == ["0.00", "+10.24"]
    assert "Force reconciliation" not in html  # a Viewer reads only


def test_fragments_render_alone_for_live_refresh(book, client_for):
    client = client_for(Role.VIEWER)
    positions = client.get("/portfolio/?fragment=positions&sort=-quantity").content.decode()
    assert positions.lstrip().startswith('<section class="panel" id="portfolio-positions"')
    assert positions.count('data-testid="position-row"') == 4
    overview = client.get("/portfolio/?fragment=overview").content.decode()
    assert 'data-testid="total-value"' in overview and "position-row" not in overview
    assert 'data-testid="sync-status"' in client.get("/portfolio/?fragment=sync").content.decode()
    assert "250,000.00" in client.get("/portfolio/?fragment=balances").content.decode()
    assert client.get("/portfolio/?fragment=nope").status_code == 404


def test_history_fragment_charts_the_equity_curve(book, client_for):
    from datetime import UTC, datetime, timedelta

    from portfolio.models import PortfolioSnapshot

    start = datetime.now(UTC) - timedelta(days=3)
    for n, value in enumerate(("1000000", "1010000", "990000")):
        PortfolioSnapshot.objects.create(
            at=start + timedelta(days=n), kind="daily", total_value=D(value), cash=D(value)
        )
    client = client_for(Role.VIEWER)
    # The page itself only asks for it; the statistics walk every point, so they come in their own request.
    assert 'hx-get="?fragment=history"' in client.get("/portfolio/").content.decode()
    html = client.get("/portfolio/?fragment=history").content.decode()
    assert 'id="perf-data"' in html and "3 daily" in html
    # Max drawdown: 1,010,000 -> 990,000 is 20,000, 1.9802% of the peak.
    assert "0.019802 (20000.00)" in html
    intraday = client.get("/portfolio/?fragment=history&history=intraday").content.decode()
    assert "1 intraday point" in intraday  # the book fixture's one desk snapshot


@pytest.fixture
def many_positions(db):
    """``n`` open positions on distinct instruments, quantities 1..n."""
    from portfolio.models import Position
    from tests.factories import make_reference_data
    from trading.models import Account, Instrument, Sector, Venue

    make_reference_data()

    def make(n: int, *, first: int = 0):
        account = Account.objects.get(name="SIM-001")
        venue = Venue.objects.get(code="SIM")
        sector = Sector.objects.first()
        made = Instrument.objects.bulk_create(
            [
                Instrument(
                    symbol=f"Z{i:05d}",
                    venue=venue,
                    instrument_id=f"Z{i:05d}.SIM",
                    asset_class="equity",
                    sector=sector,
                    quote_currency="USD",
                    tick_size=D("0.01"),
                    lot_size=D("1"),
                )
                for i in range(first, first + n)
            ]
        )
        Position.objects.bulk_create(
            [
                Position(
                    account=account, instrument=inst, quantity=D(first + k + 1), avg_price=D("10"), mark_price=D("11")
                )
                for k, inst in enumerate(made)
            ]
        )

    return make


def test_positions_come_a_hundred_to_a_page(many_positions, client_for):
    many_positions(250)
    client = client_for(Role.VIEWER)
    first = client.get("/portfolio/").content.decode()
    assert first.count('data-testid="position-row"') == 100
    assert "Page 1 of 3" in first and "250 open · 1\u2013100" in first
    last = client.get("/portfolio/?page=3").content.decode()
    assert last.count('data-testid="position-row"') == 50 and "201\u2013250" in last
    # A page past the end shows the last one rather than nothing.
    assert "Page 3 of 3" in client.get("/portfolio/?page=40").content.decode()
    # Totals cover all 250 positions, not the page: sum(k * (11 - 10)) for k = 1..250.
    page = selectors.position_page(page=2)
    assert page.totals[0].unrealized == D(250 * 251 // 2)
    assert [r.quantity for r in page.rows][:2] == [D(101), D(102)]


def test_sorts_by_any_column_both_ways(many_positions):
    many_positions(30)
    by_qty = selectors.position_page(sort="quantity", descending=True, per_page=5)
    assert [r.quantity for r in by_qty.rows] == [D(30), D(29), D(28), D(27), D(26)]
    by_pnl = selectors.position_page(sort="unrealized", per_page=3)
    assert [r.unrealized for r in by_pnl.rows] == [D(1), D(2), D(3)]
    by_notional = selectors.position_page(sort="notional", descending=True, per_page=2, page=2)
    assert [r.notional for r in by_notional.rows] == [D(28 * 11), D(27 * 11)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sort=colour", "sort"),
        ("page=abc", "page"),
        ("page=0", "page"),
        ("account=999999", "account"),
        ("account=x", "account"),
        ("history=weekly", "history"),
    ],
)
def test_rejects_bad_parameters_naming_the_field(book, client_for, query, field):
    response = client_for(Role.VIEWER).get(f"/portfolio/?{query}")
    assert response.status_code == 400
    assert f'data-field="{field}"' in response.content.decode()


def test_account_filter_shows_only_that_account(book, client_for):
    from portfolio.models import Position
    from trading.models import Account, Instrument

    other = Account.objects.get(name="BINANCE-SPOT")
    Position.objects.create(
        account=other,
        instrument=Instrument.objects.get(instrument_id="AAPL.SIM"),
        quantity=D("5"),
        avg_price=D("100"),
        mark_price=D("100"),
    )
    html = client_for(Role.VIEWER).get(f"/portfolio/?account={other.pk}").content.decode()
    assert html.count('data-testid="position-row"') == 1 and 'data-account="BINANCE-SPOT"' in html


def test_query_count_does_not_grow_with_the_book(many_positions, client_for):
    client = client_for(Role.VIEWER)
    many_positions(5)
    client.get("/portfolio/")  # warm the session and the role cache alike for both measurements
    with CaptureQueriesContext(connection) as small:
        assert client.get("/portfolio/").status_code == 200
    many_positions(400, first=5)
    with CaptureQueriesContext(connection) as large:
        assert client.get("/portfolio/").status_code == 200
    assert len(large) == len(small), [q["sql"][:120] for q in large.captured_queries]
    assert len(small) <= 20


def test_page_renders_without_redis(book, client_for, restart_redis_after):
    restart_redis_after.stop()
    html = client_for(Role.VIEWER).get("/portfolio/").content.decode()
    # Stored marks stand in for live ones, and the sync state says it is unknown, not healthy.
    assert 'data-state="unknown"' in html
    assert html.count('data-testid="position-row"') == 4


def test_live_sorts_use_the_live_mark_not_the_stored_one(book):
    # At their stored marks both EUR/USD slices show no P&L; at the live bid/ask they made 49 and 19.60.
    page = selectors.position_page(sort="unrealized", descending=True)
    assert [(r.instrument_id, r.unrealized) for r in page.rows] == [
        ("AAPL.SIM", D("985.00")),
        ("EUR/USD.SIM", D("49.00")),
        ("EUR/USD.SIM", D("19.60")),
        ("USD/JPY.SIM", D("-25020.00")),
    ]
