from celery import shared_task


@shared_task(name="portfolio.reconcile", ignore_result=True)
def reconcile() -> dict:
    from portfolio.reconciliation import reconcile_all

    return reconcile_all()


# The F8 connector's and the performance history's tasks live in portfolio/f8/tasks.py;
# imported here so Celery's autodiscovery (which looks for <app>.tasks) registers them.
from portfolio.f8.tasks import f8_sync, snapshot  # noqa: E402, F401
