"""Simulation vs backtest in Chromium: from the strategy page to the chart of both equity curves."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from monitoring.roles import Role
from tests.strategies_ui.conftest import fund_accounts, make_strategy, seed_spec
from tests.strategies_ui.test_browser_scenario import shot
from tests.strategies_ui.test_performance import backtested, simulated
from tests.ui.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_strategy_page_leads_to_the_chart_of_simulation_against_backtest(browser, daphne_server, role_users):
    fund_accounts()
    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    simulated(strategy)
    backtest = backtested(strategy)
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    page.set_default_timeout(30_000)
    log_in(page, daphne_server, "viewer")
    page.goto(f"{daphne_server}/strategies/{strategy.pk}/")
    page.click("[data-testid=performance-link]")
    figures = page.locator("[data-testid=performance-figures]")
    expect(page.locator("[data-testid=simulated-return]")).to_have_text("-0.04%")
    expect(page.locator("[data-testid=backtest-return]")).to_have_text("-0.03%")
    expect(page.locator("[data-testid=drift]")).to_have_text("0.01 pp")
    expect(figures).to_contain_text("synthetic")
    # Chart.js drew both series on the canvas (the page marks it once the chart is built).
    expect(page.locator("#performance-chart")).to_have_attribute("data-drawn", "true")
    datasets = page.evaluate("() => Chart.getChart('performance-chart').data.datasets.map(d => d.label)")
    assert datasets == ["Simulation (USD)", f"Backtest #{backtest.pk} (USD)"]
    shot(page, "performance-comparison")
    page.context.close()
