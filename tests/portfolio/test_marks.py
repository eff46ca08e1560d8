"""Unrealised P&L follows the live quotes: the periodic ``portfolio.mark`` task marks the book from ``ni:quotes``."""

from decimal import Decimal as D

import pytest

from portfolio.models import Position
from portfolio.services import positions_mark_live
from tests.f8.quotes import quotes_set
from tests.f8.support import fill, poll
from tests.factories import make_reference_data


def _book() -> None:
    make_reference_data()
    fill(instrument="EUR/USD.SIM", side="BUY", qty="10000", px="1.08500")
    fill(instrument="USD/JPY.SIM", side="SELL", qty="2000", px="151.500", fee="6", fee_ccy="JPY")
    fill(instrument="GBP/USD.SIM", side="BUY", qty="1000", px="1.27000")
    fill(instrument="GBP/USD.SIM", side="SELL", qty="1000", px="1.27100")


def _position(instrument_id: str) -> Position:
    return Position.objects.get(instrument__instrument_id=instrument_id)


@pytest.mark.django_db
def test_longs_are_marked_at_the_bid_and_shorts_at_the_ask():
    _book()
    quotes_set(EUR_USD=("1.08600", "1.08603"), USD_JPY=("151.300", "151.304"), GBP_USD=("1.28000", "1.28002"))

    assert positions_mark_live() == 2

    eur, jpy = _position("EUR/USD.SIM"), _position("USD/JPY.SIM")
    assert (eur.mark_price, eur.unrealized_pnl) == (D("1.08600"), D("10000") * (D("1.08600") - D("1.08500")))
    assert (jpy.mark_price, jpy.unrealized_pnl) == (D("151.304"), D("-2000") * (D("151.304") - D("151.500")))
    # A flat position has nothing to mark: the quote leaves it as the fills left it.
    gbp = _position("GBP/USD.SIM")
    assert (gbp.mark_price, gbp.unrealized_pnl) == (D("1.27000"), D("0"))
    # Unchanged quotes change no row.
    assert positions_mark_live() == 0


@pytest.mark.django_db
def test_instruments_without_a_usable_quote_keep_their_mark():
    _book()
    quotes_set(EUR_USD=("0", "1.08603"))

    assert positions_mark_live() == 0
    assert _position("EUR/USD.SIM").mark_price == D("1.08500")


@pytest.mark.slow
def test_mark_task_runs_in_a_worker_and_is_scheduled(celery_worker):
    from config.celery import app
    from portfolio.schedule import PERIODIC_TASKS

    assert {"task": "portfolio.mark", "every": "POSITION_SYNC_INTERVAL"}.items() <= next(
        t for t in PERIODIC_TASKS if t["task"] == "portfolio.mark"
    ).items()
    _book()
    quotes_set(EUR_USD=("1.08450", "1.08452"))

    app.send_task("portfolio.mark")

    eur = poll(
        lambda: Position.objects.filter(instrument__instrument_id="EUR/USD.SIM", mark_price=D("1.08450")).first(),
        timeout=30,
        what="the worker to mark EUR/USD at the bid",
    )
    assert eur.unrealized_pnl == D("-5.00")
