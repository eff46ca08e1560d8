"""The seed's Order Management scenario in Chromium, against daphne and the real Nautilus node.

As a Trader on the Execution page: a BUY 10000 EURUSD MARKET order goes Pending →
Risk Check → Approved → Submitted → Filled without a reload and shows up in the
history and the portfolio; a limit order far from the market rests, is modified
and is canceled; an order over a limit is rejected with the gate's reasons on the
ticket and a risk alert on the Risk page; with the kill switch engaged any order
is refused with that reason.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from monitoring.roles import Role
from tests.node.conftest import wait_for
from tests.services import ROOT
from tests.ui.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ARTIFACTS = ROOT / "test-artifacts" / "execution"
RESULT = "[data-testid=ticket-result]"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def fill_ticket(page: Page, *, side="BUY", order_type="MARKET", quantity="10000", price=""):
    page.select_option("#id_account", label="SIM-001")
    page.fill("#id_instrument", "EUR/USD.SIM")
    page.check("#id_side_0" if side == "BUY" else "#id_side_1")
    page.select_option("#id_order_type", order_type)
    page.fill("#id_quantity", quantity)
    if price:
        page.fill("#id_price", price)


def preview_until(page: Page, selector: str, *, what: str, timeout: float = 60) -> None:
    """Ask the gate inside daphne for a preview until the answer contains ``selector``.

    The gate there judges from its own snapshot, refreshed on its own schedule: the preview
    is how the page learns it has caught up (a price, a new limit, the kill switch)."""

    def answered() -> bool:
        with page.expect_response(lambda r: "/execution/ticket/preview/" in r.url):
            page.click("#ticket-preview")
        return page.locator(f"#ticket-preview-result {selector}").count() > 0

    wait_for(answered, timeout=timeout, interval=0.3, what=what)


def expect_status(page: Page, text: str, timeout: float = 60_000) -> None:
    try:
        expect(page.locator(f"{RESULT} [data-testid=result-status]")).to_have_text(text, timeout=timeout)
    except AssertionError:
        shot(page, "failure")
        raise AssertionError(f"expected {text!r}; the ticket shows: {page.locator(RESULT).inner_text()}") from None


def placed_order_id(page: Page) -> str:
    return page.locator(f"{RESULT} .order-progress a.mono").inner_text().strip()


def test_order_management_scenario(node_worker, daphne_server, role_users, browser):
    from portfolio.models import CashBalance
    from risk.killswitch import kill_switch_engage
    from risk.limits import risk_limit_create
    from trading.market_data.quotes import latest_quote
    from trading.models import Account, Order
    from trading.node.status import node_status

    # The book's cash for SIM-001 is what the sandbox venue starts the account with.
    account = Account.objects.get(name="SIM-001")
    CashBalance.objects.update_or_create(
        account=account, currency=account.base_currency, defaults={"total": account.starting_balance}
    )
    wait_for(lambda: node_status().healthy, timeout=90, what="the node running")
    wait_for(lambda: latest_quote("EUR/USD.SIM"), timeout=30, what="EUR/USD quotes")

    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        log_in(page, daphne_server, "trader")
        page.goto(f"{daphne_server}/execution/")
        expect(page.locator("#live-conn")).to_have_attribute("data-state", "ok")

        # -- 1. market order: every stage, live ------------------------------------------------
        fill_ticket(page)
        expect(page.locator("#fact-quote")).not_to_have_text("—")
        preview_until(page, "[data-testid=preview-price]", what="the gate in daphne to see EUR/USD prices")
        preview_until(page, ".msg.ok[data-testid=preview-verdict]", what="the gate to pass the order")
        shot(page, "01-ticket-preview")
        page.evaluate("window.__sameDocument = true")
        page.click("#ticket-submit")
        expect_status(page, "Filled", timeout=60_000)
        market_id = placed_order_id(page)
        timeline = page.eval_on_selector_all(
            f"{RESULT} [data-testid=result-timeline] li", "els => els.map(e => e.dataset.status)"
        )
        # The seed's stages in order. The sandbox may or may not report an acceptance, and fills
        # a market order against the top of its book, so a partial fill may come first.
        stages = [s for s in timeline if s not in ("ACCEPTED", "PARTIALLY_FILLED")]
        assert stages == ["PENDING", "RISK_CHECK", "APPROVED", "SUBMITTED", "FILLED"], timeline
        assert page.evaluate("window.__sameDocument") is True  # no reload
        expect(page.locator(f'#recent-fills a:has-text("{market_id}")')).to_have_count(1)
        shot(page, "02-market-order-filled")

        # ... in the order history (live, and by search)
        expect(page.locator(f'#order-history tr[data-order="{market_id}"] [data-testid=order-status]')).to_have_text(
            "Filled"
        )
        page.fill("#id_q", market_id)
        page.click("#order-filters button[type=submit]")
        rows = page.locator("#order-history tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Filled")
        shot(page, "03-history-search")

        # ... and in the portfolio's positions
        page.goto(f"{daphne_server}/portfolio/")
        expect(page.locator("#portfolio-positions")).to_contain_text("EUR/USD.SIM")
        shot(page, "04-portfolio-position")

        # -- 2. a limit order far below the market rests, is modified, is canceled ------------------
        page.goto(f"{daphne_server}/execution/")
        bid = latest_quote("EUR/USD.SIM").bid
        resting = (bid * Decimal("0.98")).quantize(Decimal("0.00001"))
        moved = resting - Decimal("0.00010")
        fill_ticket(page, order_type="LIMIT", price=str(resting))
        page.click("#ticket-submit")
        expect_status(page, "Accepted", timeout=60_000)
        limit_id = placed_order_id(page)
        row = page.locator(f'#active-orders tr[data-order="{limit_id}"]')
        expect(row).to_contain_text(f"{resting:.5f}")
        row.locator("button[data-action=modify]").click()
        expect(page.locator("#modify-price")).to_have_value(f"{resting:.5f}")
        page.fill("#modify-price", str(moved))
        page.click("#modify-send")
        expect(page.locator("#order-action-message")).to_contain_text("Modification sent")
        expect(row).to_contain_text(f"{moved:.5f}", timeout=30_000)  # the venue's update, pushed live
        expect(page.locator(f"{RESULT} [data-testid=result-timeline]")).to_contain_text("Modified")
        shot(page, "05-limit-order-modified")
        row.locator("button[data-action=cancel]").click()
        expect(page.locator("#order-action-message")).to_contain_text("Cancel requested")
        expect_status(page, "Canceled", timeout=30_000)
        expect(row).to_have_count(0)
        assert Order.objects.get(client_order_id=limit_id).price == moved
        shot(page, "06-limit-order-canceled")

        # -- 3. over a limit: rejected with the gate's reasons, and a risk alert ------------------
        risk_manager = role_users[Role.RISK_MANAGER]
        risk_limit_create(
            user=risk_manager, name="Desk max order 5000", scope="global", kind="max_order_quantity", value="5000"
        )
        fill_ticket(page, quantity="10000")
        preview_until(
            page, 'tr[data-check="max_order_quantity"][data-passed="false"]', what="the gate to load the limit"
        )
        page.click("#ticket-submit")
        expect_status(page, "Rejected by risk")
        expect(page.locator(f"{RESULT} [data-testid=result-reason]")).to_contain_text("ORDER_QUANTITY_LIMIT")
        expect(page.locator(f"{RESULT} [data-testid=result-checks]")).to_contain_text("5000")
        expect(page.locator("#ticket-message")).to_contain_text("Rejected by the risk gate")
        shot(page, "07-rejected-over-limit")
        page.goto(f"{daphne_server}/risk/")
        expect(page.locator("#risk-alerts")).to_contain_text("Order rejected by limit: max_order_quantity")
        shot(page, "08-risk-alert")

        # -- 4. kill switch engaged: any order refused with that reason ----------------------------
        kill_switch_engage(scope="global", reason="Order management drill", user=risk_manager)
        page.goto(f"{daphne_server}/execution/")
        fill_ticket(page, side="SELL", quantity="1000")
        preview_until(page, 'tr[data-check="kill_switch"][data-passed="false"]', what="the gate to see the kill switch")
        page.click("#ticket-submit")
        expect_status(page, "Rejected by risk")
        expect(page.locator(f"{RESULT} [data-testid=result-reason]")).to_contain_text("KILL_SWITCH_HALTED")
        expect(page.locator("#ticket-message")).to_contain_text("Kill switch engaged")
        shot(page, "09-kill-switch-refusal")
    finally:
        context.close()


def test_ticket_checks_as_you_type_and_a_double_click_places_one_order(daphne_server, role_users, browser):
    """No node here: the gate in daphne has no price and refuses, which is enough to count orders."""
    from tests.factories import make_reference_data
    from trading.models import Order

    make_reference_data()
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        log_in(page, daphne_server, "trader")
        page.goto(f"{daphne_server}/execution/")
        fill_ticket(page, quantity="1500")
        expect(page.locator('[data-error-for="quantity"]')).to_contain_text("multiple of the lot size")
        expect(page.locator("#id_quantity")).to_have_class("invalid")
        expect(page.locator("#fact-sizes")).to_contain_text("1000 / 0.00001")
        page.fill("#id_quantity", "abc")
        expect(page.locator('[data-error-for="quantity"]')).to_contain_text("not a number")
        page.select_option("#id_order_type", "LIMIT")
        page.fill("#id_price", "1.000001")
        expect(page.locator('[data-error-for="price"]')).to_contain_text("tick size")
        page.select_option("#id_time_in_force", "GTD")
        expect(page.locator("#id_expire_time")).to_be_visible()
        shot(page, "10-ticket-field-errors")

        page.select_option("#id_time_in_force", "GTC")
        page.select_option("#id_order_type", "MARKET")
        page.fill("#id_quantity", "1000")
        expect(page.locator('[data-error-for="quantity"]')).to_be_empty()
        page.dblclick("#ticket-submit")
        expect(page.locator(f"{RESULT} [data-testid=result-status]")).to_have_text("Rejected by risk")
        expect(page.locator(f"{RESULT} [data-testid=result-reason]")).to_contain_text("NO_PRICE")
        assert Order.objects.count() == 1
        shot(page, "11-double-click-one-order")

        page.click("text=Log out")
        log_in(page, daphne_server, "viewer")
        page.goto(f"{daphne_server}/execution/")
        expect(page.locator("#order-ticket")).to_have_count(0)
        expect(page.locator("#order-history")).to_contain_text(Order.objects.get().client_order_id)
        # The export as daphne streams it (an async body under ASGI).
        export = page.request.get(f"{daphne_server}/execution/orders/export.csv?side=BUY")
        assert export.status == 200 and export.headers["content-type"].startswith("text/csv")
        lines = export.text().splitlines()
        assert lines[0].startswith("created_at,client_order_id") and len(lines) == 2
        assert Order.objects.get().client_order_id in lines[1] and ",REJECTED," in lines[1]
    finally:
        context.close()


def test_signals_page_shows_routing_decisions_and_routes(daphne_server, role_users, browser):
    from tests.execution.test_pages_and_export import _signal_rows
    from tests.factories import make_reference_data

    make_reference_data()
    _signal_rows(role_users[Role.TRADER])
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        log_in(page, daphne_server, "viewer")
        page.goto(f"{daphne_server}/execution/")
        page.click("text=Signals →")
        expect(page.locator("main h1")).to_have_text("Signals")
        expect(page.locator("#signal-list")).to_contain_text("skipped: venue SIM disconnected")
        expect(page.locator("#signal-list")).to_contain_text("O-SIG-1")
        expect(page.locator("#signal-routes")).to_contain_text("Backup FX")
        shot(page, "12-signals")
        page.select_option("#id_status", "suppressed")
        page.click("#signal-filters button[type=submit]")
        expect(page.locator("#signal-list tbody tr")).to_have_count(1)
        expect(page.locator("#signal-list")).to_contain_text("duplicate of signal 1")
    finally:
        context.close()
