from celery import shared_task


@shared_task(name="portfolio.reconcile", ignore_result=True)
def reconcile() -> dict:
    from portfolio.reconciliation import reconcile_all

    return reconcile_all()
