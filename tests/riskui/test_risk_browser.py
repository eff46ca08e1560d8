"""The Risk section in Chromium against the whole desk (node, worker, beat, daphne).

A Risk Manager edits a limit and watches utilisation and a breach alert arrive live; a
Trader in another browser context sees the header's kill-switch badge change when the
Risk Manager engages it; a Trader gets neither editor nor kill switch (not shown, 403).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from monitoring.roles import Role
from tests.riskui.conftest import wait_for, wait_gate_sees_prices
from tests.services import ROOT
from tests.ui.conftest import desk_processes  # noqa: F401 - node + worker + beat
from tests.ui.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ARTIFACTS = ROOT / "test-artifacts" / "riskui"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _order(user, **fields):
    """Place an order through order_entry on a plain thread: Playwright's sync API runs an event
    loop on the test's thread, where the after-commit live pushes (async_to_sync) cannot run."""
    from concurrent.futures import ThreadPoolExecutor

    def place():
        from django.db import connection

        from trading.order_entry import order_request_check, order_submit

        try:
            data = {"account": "SIM-001", "instrument": "EUR/USD.SIM", "side": "BUY", "order_type": "MARKET", **fields}
            order, _ = order_submit(request=order_request_check(data=data, user=user), user=user)
            return order
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(place).result()


def _filled(order):
    def done():
        order.refresh_from_db()
        return order.status == "FILLED"

    wait_for(done, timeout=30, what=f"{order.client_order_id} filled")


def _new_page(browser, base_url: str, username: str) -> Page:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    log_in(page, base_url, username)
    return page


def test_risk_manager_edits_a_limit_sees_breach_live_and_halts_trading_for_a_trader(
    browser,
    daphne_server,
    desk_processes,  # noqa: F811
    role_users,
):
    from decimal import Decimal

    from portfolio.models import CashBalance
    from risk.limits import risk_limit_create
    from trading.models import Account
    from trading.node.status import node_status

    risk_user, trader = role_users[Role.RISK_MANAGER], role_users[Role.TRADER]
    # Fund the account's cash row: without one the book assumes the starting balance only until
    # the first commission creates the row (see the report), and equity would collapse to ~0.
    sim = Account.objects.get(name="SIM-001")
    CashBalance.objects.update_or_create(account=sim, currency="USD", defaults={"total": Decimal("1000000")})
    limit = risk_limit_create(
        user=role_users[Role.ADMIN], name="EUR/USD position", kind="max_position_size", value="100000"
    )
    wait_for(lambda: node_status().healthy, timeout=90, what="the node running")
    wait_gate_sees_prices()

    rm = _new_page(browser, daphne_server, risk_user.get_username())
    rm.goto(f"{daphne_server}/risk/")
    expect(rm.locator("#live-conn")).to_have_attribute("data-state", "ok")
    row = rm.locator(f"#limit-{limit.pk}")

    # Inline edit: a bad value is refused on its field, a good one saved (version 2).
    rm.click(f'[data-testid="edit-{limit.pk}"]')
    rm.fill(f'input[name="l{limit.pk}-value"]', "-5")
    rm.click(f'[data-testid="save-{limit.pk}"]')
    expect(row.locator('[data-error-for="value"]')).to_contain_text("greater than zero")
    shot(rm, "01-limit-edit-error")
    rm.fill(f'input[name="l{limit.pk}-value"]', "5000")
    rm.click(f'[data-testid="save-{limit.pk}"]')
    expect(row).to_contain_text("v2")
    expect(row).to_contain_text("5,000")

    # A fill moves utilisation, live (the risk monitor's push; no reload).
    _filled(_order(trader, quantity="4000"))
    expect(row.locator(".ubar em")).to_have_text("80.00%", timeout=30_000)
    # An order over the limit is refused by the gate; its decision appears live.
    over = _order(trader, quantity="3000")
    assert over.status == "REJECTED" and over.risk_decision.reason_codes == ["POSITION_SIZE_LIMIT"]
    expect(rm.locator('[data-testid="decisions"]')).to_contain_text("POSITION_SIZE_LIMIT")
    expect(rm.locator('[data-testid="decisions"]')).to_contain_text(over.client_order_id)

    # Tighten below the position: the monitor sees a breach, the bar turns red and the alert arrives.
    rm.click(f'[data-testid="edit-{limit.pk}"]')
    rm.fill(f'input[name="l{limit.pk}-value"]', "3000")
    rm.click(f'[data-testid="save-{limit.pk}"]')
    expect(row).to_contain_text("v3")
    expect(row.locator(".ubar em")).to_have_text("133.33% BREACH", timeout=30_000)
    expect(row.locator(".ubar")).to_have_class(re.compile(r"\bbad\b"))
    feed = rm.locator('[data-testid="alert-feed"]')
    expect(feed).to_contain_text("Risk limit breached: max_position_size", timeout=30_000)
    expect(feed).to_contain_text("4,000 vs limit 3,000")
    expect(rm.locator('[data-metric="portfolio_value"] .value')).not_to_be_empty()
    shot(rm, "02-utilisation-and-breach-live")

    # A Trader elsewhere on the desk: the header badge follows the kill switch.
    tr = _new_page(browser, daphne_server, trader.get_username())
    tr.goto(f"{daphne_server}/markets/")
    badge = tr.locator('#status-strip [data-indicator="kill-switch"]')
    expect(tr.locator("#live-conn")).to_have_attribute("data-state", "ok")
    expect(badge).to_have_text("KILL SWITCH OFF")

    rm.select_option('[data-testid="ks-form"] select[name="scope"]', "global")
    rm.select_option('[data-testid="ks-form"] select[name="mode"]', "halt")
    rm.fill('[data-testid="ks-form"] textarea[name="reason"]', "Browser test: breach on EUR/USD")
    rm.click('[data-testid="ks-engage"]')
    expect(rm.locator('[data-testid="ks-confirm"]')).to_contain_text("Engage the global kill switch")
    shot(rm, "03-kill-switch-confirm")
    expect(badge).to_have_text("KILL SWITCH OFF")  # nothing happens before the confirmation
    rm.click('[data-testid="ks-confirm-button"]')
    expect(badge).to_have_text("KILL SWITCH HALTED", timeout=5_000)
    expect(badge).to_have_attribute("data-level", "red")
    expect(rm.locator('[data-testid="ks-state"]')).to_contain_text("Halt")
    shot(tr, "04-trader-header-halted")
    shot(rm, "05-risk-manager-after-engage")

    # The Trader is refused the editors: not shown, and a forged POST is 403.
    tr.goto(f"{daphne_server}/risk/")
    expect(tr.locator(f"#limit-{limit.pk}")).to_be_visible()
    expect(tr.locator('[data-testid="ks-form"]')).to_have_count(0)
    expect(tr.locator(f'[data-testid="edit-{limit.pk}"]')).to_have_count(0)
    shot(tr, "06-trader-risk-page")
    token = next(c["value"] for c in tr.context.cookies() if c["name"] == "csrftoken")
    headers = {"X-CSRFToken": token, "Referer": f"{daphne_server}/risk/"}
    edit = tr.request.post(
        f"{daphne_server}/risk/limits/{limit.pk}/edit/",
        headers=headers,
        form={
            f"l{limit.pk}-name": "x",
            f"l{limit.pk}-kind": "max_position_size",
            f"l{limit.pk}-scope": "global",
            f"l{limit.pk}-value": "999999",
        },
    )
    assert edit.status == 403
    release = tr.request.post(
        f"{daphne_server}/risk/kill-switch/",
        headers=headers,
        form={
            "action": "disengage",
            "scope": "global",
            "mode": "halt",
            "reason": "trader wants out",
            "confirmed": "on",
        },
    )
    assert release.status == 403
    limit.refresh_from_db()
    from risk.models import KillSwitch

    assert limit.value == 3000 and KillSwitch.objects.get(scope="global").engaged
    tr.context.close()
    rm.context.close()
