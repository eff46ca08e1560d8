"""The seed's Portfolio Monitoring scenario in Chromium, against the real node.

Navigate to Portfolio; review the overview (Total Value, Cash Balance, Open
Positions, Daily P&L); check a position's details (instrument, unrealised P&L,
risk per position); verify synchronisation (status, a discrepancy shown and then
resolved); see the historical performance; and watch the book update live.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from playwright.sync_api import Page, expect

from monitoring.roles import Role
from tests.e2e.conftest import node_worker, wait_for  # noqa: F401 - the real Nautilus node under a Celery worker
from tests.factories import password_for
from tests.services import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ARTIFACTS = ROOT / "test-artifacts" / "portfolio"
EURUSD = "EUR/USD.SIM"


def screenshot(page: Page, name: str) -> None:
    # The history panel arrives in its own request after each page load.
    expect(page.locator("[data-testid=equity-chart]")).to_have_attribute("data-ready", "1")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def desk(node_worker, role_users):  # noqa: F811
    """The node trading, SIM-001 funded and holding for a person on any difference, prices the gate can see."""
    from portfolio.models import CashBalance
    from risk.services import process_gate
    from trading.market_data.quotes import latest_quote
    from trading.models import Account
    from trading.node.status import node_status

    account = Account.objects.get(name="SIM-001")
    account.reconciliation_policy = Account.ReconciliationPolicy.HOLD
    account.save(update_fields=["reconciliation_policy"])
    CashBalance.objects.create(account=account, currency="USD", total=D("1000000"))
    wait_for(lambda: node_status().healthy, timeout=90, what="the node running")
    wait_for(lambda: latest_quote(EURUSD), timeout=30, what="EUR/USD quotes")
    runtime = process_gate().runtime
    wait_for(
        lambda: (
            runtime.snapshot is not None
            and EURUSD in runtime.snapshot.quotes
            and runtime.snapshot.instruments.get(EURUSD) is not None
        ),
        timeout=30,
        what="the gate to see prices",
    )
    return account


def _market(trader, side: str, quantity: str):
    """A market order through the desk's order entry, as a trader's ticket places it, until filled.

    One lot at a time: the simulated venue quotes 1 to 100 lots at the touch, and a
    bigger market order can stay partially filled.

    Submitted from its own thread: Playwright's sync API keeps an event loop running in
    the test's thread, where the desk's synchronous broadcast helpers refuse to run."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from trading.models import Order
    from trading.order_entry import order_request_check, order_submit

    def submit():
        try:
            data = {
                "account": "SIM-001",
                "instrument": EURUSD,
                "side": side,
                "order_type": "MARKET",
                "quantity": quantity,
            }
            order, _ = order_submit(request=order_request_check(data=data, user=trader), user=trader)
            return order
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        order = pool.submit(submit).result()
    assert order.status == "APPROVED", order.status_reason

    try:
        wait_for(lambda: Order.objects.get(pk=order.pk).status == "FILLED", timeout=60, what=f"{side} {quantity}")
    except AssertionError:
        current = Order.objects.get(pk=order.pk)
        raise AssertionError(f"{side} {quantity} not filled: {current.status} {current.status_reason}") from None
    return order


def _engine_holds(quantity: str) -> None:
    from portfolio.reconciliation import engine_view_read

    wait_for(
        lambda: (v := engine_view_read()) is not None and v.positions.get(EURUSD) == D(quantity),
        timeout=20,
        what=f"the engine to report {quantity} {EURUSD}",
    )


def _history() -> None:
    """Ten daily closes behind us (the equity history), then today's close and the risk run, as beat would."""
    from portfolio.models import PortfolioSnapshot
    from portfolio.performance import portfolio_snapshot_take
    from risk.models import PriceHistory
    from risk.monitor import risk_monitor_run
    from trading.models import Instrument

    today = datetime.now(UTC).replace(hour=21, minute=0, second=0, microsecond=0)
    closes = [
        D("1000000"),
        D("1004200"),
        D("1002100"),
        D("1009800"),
        D("1006500"),
        D("998700"),
        D("1001900"),
        D("1007300"),
        D("1012600"),
        D("1010400"),
    ]
    for n, value in enumerate(closes):
        PortfolioSnapshot.objects.create(
            at=today - timedelta(days=len(closes) - n), kind="daily", currency="USD", total_value=value, cash=value
        )
    eurusd = Instrument.objects.get(instrument_id=EURUSD)
    mids = [
        D("1.0800"),
        D("1.0835"),
        D("1.0812"),
        D("1.0861"),
        D("1.0840"),
        D("1.0799"),
        D("1.0823"),
        D("1.0850"),
        D("1.0871"),
        D("1.0858"),
        D("1.0866"),
        D("1.0842"),
    ]
    for n, close in enumerate(mids):
        PriceHistory.objects.create(instrument=eurusd, date=(today - timedelta(days=len(mids) - n)).date(), close=close)
    result = portfolio_snapshot_take(kind="daily")
    assert not result.missing, result.missing
    risk_monitor_run()


def test_portfolio_monitoring_scenario(desk, daphne_server, browser, role_users):
    from portfolio.models import Discrepancy, Position

    trader = role_users[Role.TRADER]
    _market(trader, "BUY", "1000")
    _engine_holds("1000")
    _history()

    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{daphne_server}/login/")
        page.fill("#id_username", "risk")
        page.fill("#id_password", password_for("risk"))
        page.click("button[type=submit]")
        expect(page.locator("[data-testid=username]")).to_have_text("risk")

        # 1. Navigate to the Portfolio section.
        page.click('nav.nav a[href="/portfolio/"]')
        page.wait_for_url(f"{daphne_server}/portfolio/")
        expect(page.locator("#live-conn")).to_have_attribute("data-state", "ok")

        # 2. The overview: every card carries a figure.
        expect(page.locator("[data-testid=total-value] .value")).to_have_text(re.compile(r"^[\d,]+\.\d{2}$"))
        expect(page.locator("[data-testid=cash-balance] .value").first).to_contain_text("USD")
        expect(page.locator("[data-testid=open-positions] .value")).to_have_text("1")
        expect(page.locator("[data-testid=daily-pnl] .value")).to_have_text(re.compile(r"^[+-]?[\d,]+\.\d{2}$"))

        # 3. Position details: instrument, quantity at the live mark, unrealised P&L, VaR.
        row = page.locator(f'[data-testid=position-row][data-instrument="{EURUSD}"]')
        expect(row.locator("[data-testid=quantity]")).to_have_text("1,000")
        expect(row.locator("[data-testid=unrealized]")).to_have_text(re.compile(r"^[+-]?[\d,]+\.\d{2}$"))
        expect(row.locator("[data-testid=var]")).to_have_text(re.compile(r"^[\d,]+\.\d{2}$"))
        expect(row.locator("[data-testid=mark]")).to_have_attribute("data-live", "1")  # not the last fill price
        expect(page.locator("[data-testid=totals-row][data-currency=USD]")).to_be_visible()

        # 5. Historical performance: the equity curve and its drawdown are drawn.
        expect(page.locator("[data-testid=equity-chart]")).to_have_attribute("data-ready", "1")
        expect(page.locator("[data-testid=performance-summary]")).to_contain_text("11 daily")
        screenshot(page, "1-overview-positions-history")

        # 4. Synchronisation: checked now, book and engine agree.
        page.click("[data-testid=force-reconciliation]")
        expect(page.locator("[data-testid=sync-status]")).to_have_attribute("data-state", "synchronized")
        expect(page.locator("[data-testid=no-discrepancies]")).to_be_visible()
        expect(page.locator("[data-testid=f8-status]")).to_be_visible()
        page.locator("#sync").scroll_into_view_if_needed()
        screenshot(page, "2-synchronized")

        # The book drifts from the engine behind everyone's back.
        Position.objects.filter(account=desk, instrument__instrument_id=EURUSD).update(quantity=D("3000"))
        page.click("[data-testid=force-reconciliation]")
        expect(page.locator("[data-testid=sync-status]")).to_have_attribute("data-state", "diverged")
        discrepancy = page.locator(f'[data-testid=discrepancy-row][data-instrument="{EURUSD}"]')
        expect(discrepancy.locator("[data-testid=book-quantity]")).to_have_text("3,000")
        expect(discrepancy.locator("[data-testid=engine-quantity]")).to_have_text("1,000")
        screenshot(page, "3-discrepancy")

        # Hold policy: nothing changes until a person decides; accept the engine's figure.
        assert Position.objects.get(account=desk, instrument__instrument_id=EURUSD).quantity == D("3000")
        discrepancy.locator("[data-testid=accept-engine]").click()
        expect(page.locator("[data-testid=messages]")).to_contain_text("book corrected to the engine")
        expect(page.locator("[data-testid=discrepancy-row]")).to_have_count(0)
        expect(row.locator("[data-testid=quantity]")).to_have_text("1,000")
        expect(page.locator("[data-testid=resolved-recently]")).to_contain_text("by risk")
        assert Discrepancy.objects.get().resolution == Discrepancy.Resolution.ACCEPT_ENGINE
        page.click("[data-testid=force-reconciliation]")
        expect(page.locator("[data-testid=sync-status]")).to_have_attribute("data-state", "synchronized")
        screenshot(page, "4-resolved")

        # Real-time: a fill elsewhere reaches the open page without a reload.
        page.evaluate("window.__sameDocument = true")
        _market(trader, "BUY", "1000")
        expect(row.locator("[data-testid=quantity]")).to_have_text("2,000", timeout=20_000)
        assert page.evaluate("window.__sameDocument === true")
        screenshot(page, "5-live-update")
    finally:
        context.close()


def test_post_trade_pages_attribution_trades_and_compliance(daphne_server, browser, role_users):
    """A Viewer reads the post-trade tabs and downloads the trade history and the compliance report."""
    from tests.f8.support import fill
    from tests.factories import make_reference_data

    make_reference_data()
    day = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=1)
    fill(instrument=EURUSD, qty="10000", px="1.08500", fee="2.17", ts=day)
    fill(instrument=EURUSD, side="SELL", qty="4000", px="1.08600", ts=day + timedelta(hours=1))
    fill(instrument="AAPL.SIM", qty="10", px="190.25", ts=day + timedelta(hours=2))

    context = browser.new_context(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{daphne_server}/login/")
        page.fill("#id_username", "viewer")
        page.fill("#id_password", password_for("viewer"))
        page.click("button[type=submit]")
        page.goto(f"{daphne_server}/portfolio/")
        expect(page.locator("[data-testid=force-reconciliation]")).to_have_count(0)  # a Viewer reads only

        page.click("[data-testid=portfolio-tabs] >> text=Attribution")
        expect(page.locator("[data-testid=attribution-total]")).to_contain_text("3 fills")
        expect(page.locator("[data-testid=attribution-instrument] [data-testid=attribution-row]")).to_have_count(2)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "6-attribution.png"), full_page=True)

        page.click("[data-testid=portfolio-tabs] >> text=Trade history")
        expect(page.locator("[data-testid=trade-row]")).to_have_count(3)
        page.fill("input[name=instrument]", EURUSD)
        page.click("[data-testid=trade-filters] button")
        expect(page.locator("[data-testid=trade-row]")).to_have_count(2)
        page.screenshot(path=str(ARTIFACTS / "7-trade-history.png"), full_page=True)
        with page.expect_download() as download:
            page.click("[data-testid=trades-export]")
        lines = open(download.value.path()).read().splitlines()
        assert len(lines) == 3 and lines[0].startswith("time,account,instrument")

        page.click("[data-testid=portfolio-tabs] >> text=Compliance")
        expect(page.locator("[data-testid=compliance-summary]")).to_contain_text("Rejected orders")
        page.screenshot(path=str(ARTIFACTS / "8-compliance.png"), full_page=True)
        with page.expect_download() as download:
            page.click("[data-testid=compliance-pdf]")
        assert open(download.value.path(), "rb").read(5) == b"%PDF-"
        assert download.value.suggested_filename.startswith("compliance-")
    finally:
        context.close()
