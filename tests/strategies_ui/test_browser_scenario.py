"""The seed's Strategy Management scenario in Chromium, against the real node, web server and book.

Create "Test Strategy 1" (Mean Reversion on EUR/USD.SIM, Risk Limit $1000), validate it, deploy it to
simulation, watch it in the active strategies with live metrics, modify it (a new version, swapped
in on the running node), stop it, delete it, and run a bulk operation with per-item results.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from monitoring.roles import Role
from tests.services import ROOT
from tests.strategies_ui.conftest import fund_accounts, make_strategy, seed_spec
from tests.ui.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ARTIFACTS = ROOT / "test-artifacts" / "strategies"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser, daphne_server):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    context.close()


def test_strategy_management_scenario(page, daphne_server, running_node, role_users):
    from strategies.models import Strategy

    fund_accounts()
    trader = role_users[Role.TRADER]
    log_in(page, daphne_server, "trader")

    # -- create -------------------------------------------------------------------------------
    page.click('nav.nav a[href="/strategies/"]')
    page.click("[data-testid=create-strategy]")
    page.fill("#id_name", "Test Strategy 1")
    page.select_option("#id_strategy_type", "ema_cross")
    expect(page.locator("[data-testid=params-ema_cross]")).to_be_visible()
    expect(page.locator("[data-testid=params-mean_reversion]")).to_be_hidden()
    page.select_option("#id_strategy_type", "mean_reversion")  # switching type swaps the parameter fields
    expect(page.locator("[data-testid=params-mean_reversion]")).to_be_visible()
    expect(page.locator("[data-testid=params-ema_cross]")).to_be_hidden()
    page.select_option("#id_instruments", ["EUR/USD.SIM"])
    page.select_option("#id_account", "SIM-001")
    # One-second bars and a two-bar band: it trades within seconds on the simulated feed.
    page.fill("#id_bar_spec", "1-SECOND-MID")
    page.fill("#id_risk_budget", "1000")
    page.fill("#id_max_position", "3000")
    page.fill("#id_allocation", "50000")
    page.fill("#id_mean_reversion__bb_period", "2")
    page.fill("#id_mean_reversion__bb_std", "0.1")
    page.fill("#id_mean_reversion__trade_size", "1000")

    # -- validate on the form: a bad value first, every problem named --------------------------
    page.fill("#id_mean_reversion__bb_period", "1")
    page.click("[data-testid=validate-strategy]")
    expect(page.locator("[data-testid=validation-problems]")).to_contain_text("parameters.bb_period")
    shot(page, "01-validation-problems")
    page.fill("#id_mean_reversion__bb_period", "2")
    page.click("[data-testid=validate-strategy]")
    expect(page.locator("[data-testid=validation-ok]")).to_be_visible()
    shot(page, "02-validation-passed")
    page.click("[data-testid=save-strategy]")
    expect(page.locator("[data-testid=strategy-name]")).to_have_text("Test Strategy 1")
    strategy = Strategy.objects.get(name="Test Strategy 1")
    assert strategy.current_version.spec["risk"]["risk_budget"] == "1000"

    # -- validate the strategy (draft -> validated), deploy to simulation ------------------------
    page.click("[data-testid=action-validate]")
    expect(page.locator("[data-testid=validation-ok]")).to_be_visible()
    expect(page.locator("[data-testid=strategy-status]")).to_have_attribute("data-status", "validated")
    page.click("[data-testid=action-deploy]")
    expect(page.locator("[data-testid=strategy-status]")).to_have_attribute("data-status", "simulation")
    expect(page.locator("[data-testid=metric-node]")).to_have_text("running", timeout=30_000)
    expect(page.locator("[data-testid=metric-orders]")).not_to_have_text("0", timeout=90_000)
    shot(page, "03-deployed-live-metrics")

    # -- the active strategies list, updating live ----------------------------------------------
    page.click('nav.nav a[href="/strategies/"]')
    row = page.locator(f'[data-testid=active-row][data-strategy="{strategy.pk}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("RUNNING")
    first = row.locator("[data-testid=live-orders]").inner_text()
    expect(row.locator("[data-testid=live-orders]")).not_to_have_text(first, timeout=90_000)  # pushed, no reload
    expect(row.locator("[data-testid=live-positions]")).not_to_have_text("0", timeout=90_000)
    shot(page, "04-active-strategies")

    # -- modify: a new version, swapped in on the running node ---------------------------------
    row.locator("a").first.click()
    page.click("[data-testid=edit-strategy]")
    page.fill("#id_mean_reversion__bb_period", "3")
    page.fill("#id_note", "wider band")
    page.click("[data-testid=save-strategy]")
    expect(page.locator("[data-testid=messages]")).to_contain_text("Saved v2")
    expect(page.locator("[data-testid=redeploy-note]")).to_be_visible()
    page.click("[data-testid=action-deploy]")
    expect(page.locator("[data-testid=deployed-version]")).to_contain_text("v2")
    page.locator('[data-testid=version-row][data-version="2"] input[name=b]').check()
    page.locator('[data-testid=version-row][data-version="1"] input[name=a]').check()
    page.click("[data-testid=compare-versions]")
    expect(page.locator("[data-testid=diff-changed]")).to_have_count(1)
    expect(page.locator("[data-testid=version-diff]")).to_contain_text("parameters.bb_period")
    shot(page, "05-modified-version-diff")

    # -- delete is refused while it runs; stop; delete ------------------------------------------
    page.click("[data-testid=action-delete]")
    expect(page.locator("[data-testid=action-errors]")).to_contain_text("stop it before deleting it")
    page.click("[data-testid=action-stop]")
    expect(page.locator("[data-testid=strategy-status]")).to_have_attribute("data-status", "stopped")
    expect(page.locator("[data-testid=metric-node]")).to_have_text("absent", timeout=30_000)
    shot(page, "06-stopped")
    page.click("[data-testid=action-delete]")
    expect(page).to_have_url(re.compile(r"/strategies/$"))
    expect(page.locator("[data-testid=messages]")).to_contain_text("Deleted Test Strategy 1")
    expect(page.locator('[data-testid=strategy-row][data-name="Test Strategy 1"]')).to_have_count(0)
    strategy.refresh_from_db()
    assert strategy.status == "deleted" and strategy.versions.count() == 2

    # -- bulk: select several, validate, per-item results -----------------------------------------
    make_strategy(trader, seed_spec("Bulk good"))
    make_strategy(trader, seed_spec("Bulk broken", parameters={"bb_period": 1, "bb_std": "2", "trade_size": "10000"}))
    page.reload()
    for name in ("Bulk good", "Bulk broken"):
        page.locator(f'[data-testid=strategy-row][data-name="{name}"] input[type=checkbox]').check()
    page.select_option("[data-testid=bulk-action]", "validate")
    page.click("[data-testid=bulk-apply]")
    results = page.locator("[data-testid=bulk-row]")
    expect(results).to_have_count(2)
    expect(results.filter(has_text="Bulk good")).to_contain_text("ok")
    expect(results.filter(has_text="Bulk broken")).to_contain_text("parameters.bb_period")
    shot(page, "07-bulk-results")
    for name in ("Bulk good", "Bulk broken"):
        page.locator(f'[data-testid=strategy-row][data-name="{name}"] input[type=checkbox]').check()
    page.select_option("[data-testid=bulk-action]", "delete")
    page.click("[data-testid=bulk-apply]")
    expect(page.locator("[data-testid=bulk-row]").filter(has_text="deleted")).to_have_count(2)
    assert not Strategy.objects.exclude(status="deleted").exists()
