"""Celery tasks of the F8 connector and the performance history (thin: one service call each)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="portfolio.f8_sync", ignore_result=True)
def f8_sync() -> dict:
    from portfolio.f8.sync import f8_sync_run

    return f8_sync_run()


@shared_task(name="portfolio.snapshot", ignore_result=True)
def snapshot(kind: str = "intraday") -> dict:
    from portfolio.performance import portfolio_snapshot_take

    result = portfolio_snapshot_take(kind=kind)
    return {"kind": kind, "rows": result.rows, "missing": result.missing}
