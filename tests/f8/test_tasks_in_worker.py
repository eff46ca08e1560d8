"""The Celery tasks run in a real worker: F8 sync drains the outbox to the server, snapshots are written."""

from decimal import Decimal as D

import pytest

from portfolio.models import CashBalance, F8OutboxItem, PortfolioSnapshot
from tests.f8.quotes import quotes_set
from tests.f8.support import fill, poll
from tests.factories import make_reference_data
from trading.models import Account

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def f8_worker(transactional_db, fake_f8):
    from tests.processes import child_env, start_celery_worker

    env = child_env(F8_API_URL=fake_f8.url, F8_API_KEY=fake_f8.api_key, F8_PORTFOLIO_ID=fake_f8.portfolio_id)
    proc = start_celery_worker("f8-test", "default", env=env)
    yield proc
    proc.stop()


def test_f8_sync_and_snapshot_tasks_run_in_a_worker(f8_worker, fake_f8):
    from config.celery import app

    make_reference_data()
    CashBalance.objects.create(account=Account.objects.get(name="SIM-001"), currency="USD", total=D("1000000"))
    fill(qty="10000", px="1.08500")
    quotes_set(EUR_USD=("1.0850", "1.0852"))

    app.send_task("portfolio.f8_sync")
    poll(
        lambda: fake_f8.applied_keys("trade") and fake_f8.applied_keys("position"),
        timeout=30,
        what="the worker's push to F8",
    )
    poll(lambda: not F8OutboxItem.objects.filter(state="pending").exists(), timeout=10, what="the outbox to drain")

    app.send_task("portfolio.snapshot", kwargs={"kind": "daily"})
    desk = poll(
        lambda: PortfolioSnapshot.objects.filter(account=None, kind="daily").first(),
        timeout=30,
        what="the desk snapshot",
    )
    # The long is marked at the bid, what selling it would fetch.
    assert desk.total_value == D("1000000") + D("10000") * (D("1.0850") - D("1.085"))
