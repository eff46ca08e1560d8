"""The desk in Debian's Chromium: every role, every section, and the live header."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from monitoring.roles import Role
from tests.factories import ROLE_USERNAMES, password_for
from tests.services import ROOT

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts" / "ui"
SECTIONS = [
    ("dashboard", "/", "Dashboard"),
    ("strategies", "/strategies/", "Strategies"),
    ("risk", "/risk/", "Risk"),
    ("execution", "/execution/", "Execution"),
    ("portfolio", "/portfolio/", "Portfolio"),
    ("markets", "/markets/", "Markets"),
    ("monitoring", "/monitoring/", "Monitoring"),
]
INDICATORS = ["nautilus", "risk", "portfolio", "feeds"]


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password_for(username))
    page.click("button[type=submit]")
    expect(page.locator("[data-testid=username]")).to_have_text(username)


def indicator(page: Page, key: str):
    return page.locator(f'#status-strip [data-indicator="{key}"]')


@pytest.fixture
def page(browser, daphne_server):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture
def desk_rows(role_users):
    from tests.factories import make_reference_data
    from tests.web.desk_rows import make_desk_rows

    make_reference_data()
    return make_desk_rows(user=role_users[Role.RISK_MANAGER])


@pytest.mark.parametrize("role", list(ROLE_USERNAMES), ids=lambda r: r.label)
def test_each_role_signs_in_and_opens_every_section(page, daphne_server, role_users, desk_rows, role):
    username = ROLE_USERNAMES[role]
    log_in(page, daphne_server, username)
    expect(page.locator("[data-testid=role]")).to_have_text(role.label)
    for slug, path, heading in SECTIONS:
        page.click(f'nav.nav a[href="{path}"]')
        page.wait_for_url(f"{daphne_server}{path}")
        expect(page.locator("main h1").first).to_contain_text(heading)
        expect(page.locator(f'nav.nav a[href="{path}"]')).to_have_class(re.compile(r"\bactive\b"))
        # The live socket is up and the status loop has pushed the header at least once.
        expect(page.locator("#live-conn")).to_have_attribute("data-state", "ok")
        for key in INDICATORS:
            expect(indicator(page, key)).to_have_attribute("data-level", re.compile("^(green|amber|red)$"))
        screenshot(page, f"{username}-{slug}")
    admin_link = page.locator('nav.nav a[href="/admin/"]')
    expect(admin_link).to_have_count(1 if role == Role.ADMIN else 0)


def test_sign_out_returns_to_login(page, daphne_server, role_users):
    log_in(page, daphne_server, "trader")
    page.click("text=Log out")
    page.wait_for_url(re.compile(r"/login/"))
    page.goto(f"{daphne_server}/execution/")
    page.wait_for_url(re.compile(r"/login/\?next=/execution/"))


def test_nautilus_and_feeds_turn_red_without_reload_when_redis_stops(
    page, daphne_server, role_users, restart_redis_after
):
    """Nothing but the web process runs here, so the point is the reason: 'unreachable', not 'never ran'."""
    log_in(page, daphne_server, "viewer")
    for key in ("nautilus", "feeds"):
        expect(indicator(page, key).locator(".ind-state")).not_to_have_text("unreachable")
    page.evaluate("window.__sameDocument = true")

    restart_redis_after.stop()
    for key in ("nautilus", "feeds"):
        expect(indicator(page, key)).to_have_attribute("data-level", "red", timeout=10_000)
        expect(indicator(page, key).locator(".ind-state")).to_have_text("unreachable", timeout=10_000)
        expect(indicator(page, key)).to_have_attribute("data-tip", re.compile(r"connect|redis|refused", re.IGNORECASE))
    screenshot(page, "redis-down-header")

    restart_redis_after.start()
    for key in ("nautilus", "feeds"):
        expect(indicator(page, key).locator(".ind-state")).not_to_have_text("unreachable", timeout=15_000)
    assert page.evaluate("window.__sameDocument") is True  # no reload happened


def test_header_turns_red_when_the_web_server_goes_away(browser, transactional_db, role_users):
    from tests.processes import start_daphne

    proc, base_url = start_daphne("daphne-dies")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        log_in(page, base_url, "viewer")
        expect(page.locator("#live-conn")).to_have_attribute("data-state", "ok")
        proc.stop()
        for key in [*INDICATORS, "kill-switch"]:
            expect(indicator(page, key)).to_have_attribute("data-level", "red", timeout=10_000)
        expect(indicator(page, "nautilus")).to_have_attribute("data-tip", re.compile("Connection to the desk lost"))
        expect(page.locator("#live-conn")).to_have_attribute("data-state", "bad")
        screenshot(page, "connection-lost-header")
    finally:
        context.close()
        proc.stop()


@pytest.mark.slow
def test_real_desk_shows_four_green_indicators_to_every_role_on_every_section(
    desk_processes, page, daphne_server, role_users
):
    """Node, risk monitor, reconciliation and quotes all real: green is earned, not written by the test."""
    for role, username in ROLE_USERNAMES.items():
        log_in(page, daphne_server, username)
        for slug, path, _ in SECTIONS:
            page.goto(f"{daphne_server}{path}")
            for key in INDICATORS:
                # The first time round the node is still starting; after that green is immediate.
                expect(indicator(page, key)).to_have_attribute("data-level", "green", timeout=120_000)
            if role == Role.VIEWER:
                screenshot(page, f"all-green-{slug}")
        page.click("text=Log out")
        page.wait_for_url(re.compile(r"/login/"))


@pytest.mark.slow
def test_real_desk_indicators_turn_red_when_redis_stops_and_green_again_when_it_returns(
    desk_processes, page, daphne_server, role_users, restart_redis_after
):
    """The test Redis keeps no data across a restart: the desk must rebuild its live state, not just reconnect."""
    log_in(page, daphne_server, "trader")
    for key in INDICATORS:
        expect(indicator(page, key)).to_have_attribute("data-level", "green", timeout=120_000)
    page.evaluate("window.__sameDocument = true")
    restart_redis_after.stop()
    for key in ("nautilus", "feeds"):
        expect(indicator(page, key)).to_have_attribute("data-level", "red", timeout=10_000)
    screenshot(page, "real-desk-redis-down")
    restart_redis_after.start()
    for key in INDICATORS:
        expect(indicator(page, key)).to_have_attribute("data-level", "green", timeout=120_000)
    assert page.evaluate("window.__sameDocument") is True
    screenshot(page, "real-desk-recovered")
