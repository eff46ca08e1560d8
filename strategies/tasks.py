"""Celery tasks of the strategies app: thin, ids in, one service call out.

Both run on the ``default`` queue. Failures of a backtest are recorded on its
row rather than raised, so an optimisation's chord always reaches its callback.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="strategies.backtest", bind=True)
def backtest_run(self, backtest_id: int) -> dict:
    from strategies.backtesting import backtest_execute

    return backtest_execute(backtest_id, worker=self.request.hostname or "")


@shared_task(name="strategies.optimisation_finish")
def optimisation_finish(results: list[dict], run_id: int) -> dict:
    from strategies.optimisation import optimisation_complete

    return optimisation_complete(run_id=run_id, results=results)
