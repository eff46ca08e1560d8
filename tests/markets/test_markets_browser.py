"""Playwright in Debian's Chromium against daphne and a real node: prices tick without reload,
filter, search, sort, and a live chart."""

import pytest
from django.test import Client

from monitoring.roles import Role
from tests.node.conftest import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_markets_page_updates_live_filters_sorts_and_opens_a_chart(node_worker, daphne_server, role_users, browser):
    from trading.node.status import node_status

    wait_for(lambda: node_status().healthy, timeout=90, what="the node to run")
    client = Client()
    client.force_login(role_users[Role.VIEWER])
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": daphne_server}])
    page = context.new_page()
    page.goto(f"{daphne_server}/markets/")
    row = 'tr[data-instrument="EUR/USD.SIM"]'
    # The page must move on its own: wait for the bid cell to change (no reload).
    first = page.wait_for_function(
        # The page shows an en dash until the first quote.
        f"""() => {{ const c = document.querySelector('{row} [data-f="bid"]');"""
        f"""return c && c.textContent !== '–' && c.textContent; }}""",  # noqa: RUF001
        timeout=20000,
    ).json_value()
    page.wait_for_function(
        f"""(first) => document.querySelector('{row} [data-f="bid"]').textContent !== first""", arg=first, timeout=20000
    )
    assert "live" in page.text_content(f'{row} [data-f="status"]')

    page.select_option("#filter-type", "equity")
    assert page.is_hidden(row)
    assert page.is_visible('tr[data-instrument="AAPL.SIM"]')
    page.fill("#filter-search", "msf")
    assert page.is_hidden('tr[data-instrument="AAPL.SIM"]')
    assert page.is_visible('tr[data-instrument="MSFT.SIM"]')
    page.fill("#filter-search", "")
    page.select_option("#filter-type", "")

    page.click('th[data-sort="symbol"]')  # already ascending → descending
    visible = page.eval_on_selector_all(
        "#markets-table tbody tr:not([hidden])", "rs => rs.map(r => r.dataset.instrument)"
    )
    assert visible[0] == "XOM.SIM" and visible[-1] == "AAPL.SIM"

    page.click('a[href="/markets/i/AAPL.SIM/"]')
    page.wait_for_selector("#chart canvas", timeout=10000)
    page.wait_for_function("() => window.__chartUpdates > 2 && window.__chartBars() > 0", timeout=20000)
    assert page.text_content("#q-bid") != "–"  # noqa: RUF001 (the page's placeholder)
    context.close()
