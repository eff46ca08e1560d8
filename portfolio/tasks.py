from celery import shared_task


@shared_task(name="portfolio.reconcile", ignore_result=True)
def reconcile() -> dict:
    from portfolio.reconciliation import reconcile_all

    return reconcile_all()


@shared_task(name="portfolio.mark", ignore_result=True)
def mark() -> int:
    from portfolio.services import positions_mark_live

    return positions_mark_live()


@shared_task(name="portfolio.attribution_refresh", ignore_result=True)
def attribution_refresh() -> str:
    from portfolio.attribution import attribution_ledger_refresh

    return str(attribution_ledger_refresh(thorough=True))


# The F8 connector's and the performance history's tasks live in portfolio/f8/tasks.py;
# imported here so Celery's autodiscovery (which looks for <app>.tasks) registers them.
from portfolio.f8.tasks import f8_sync, snapshot  # noqa: E402, F401
