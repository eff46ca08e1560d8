"""Trade history CSV: filters validated field by field, rows exact."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from portfolio.exports import COLUMNS, trade_history_csv, trade_history_filters
from tests.f8.support import fill
from tests.factories import make_reference_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def fills():
    make_reference_data()
    fill(instrument="EUR/USD.SIM", qty="10000", px="1.08500", fee="2.17", ts=datetime(2026, 1, 5, 9, tzinfo=UTC))
    fill(instrument="EUR/USD.SIM", side="SELL", qty="4000", px="1.08600", ts=datetime(2026, 1, 6, 9, tzinfo=UTC))
    fill(instrument="AAPL.SIM", qty="10", px="190.25", ts=datetime(2026, 1, 6, 10, tzinfo=UTC))


def _rows(params):
    return list(csv.DictReader(io.StringIO("".join(trade_history_csv(trade_history_filters(params))))))


def test_exports_every_fill_oldest_first_with_exact_numbers(fills):
    rows = _rows({})
    assert list(rows[0]) == COLUMNS
    assert [(r["instrument"], r["side"], r["quantity"], r["price"]) for r in rows] == [
        ("EUR/USD.SIM", "BUY", "10000", "1.085"),
        ("EUR/USD.SIM", "SELL", "4000", "1.086"),
        ("AAPL.SIM", "BUY", "10", "190.25"),
    ]
    assert rows[0]["notional"] == "10850" and rows[0]["commission"] == "2.17"
    assert rows[2]["sector"] == "Technology"


def test_filters_by_instrument_side_and_dates(fills):
    assert len(_rows({"instrument": "EUR/USD.SIM"})) == 2
    assert len(_rows({"side": "sell"})) == 1
    assert [r["instrument"] for r in _rows({"start": "2026-01-06"})] == ["EUR/USD.SIM", "AAPL.SIM"]
    assert len(_rows({"end": "2026-01-05"})) == 1  # a date as the end includes that day
    assert len(_rows({"account": "SIM-001", "start": "2026-01-06T09:30:00Z"})) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"side": "HOLD"}, "side"),
        ({"account": "NOBODY"}, "account"),
        ({"instrument": "DOGE.SIM"}, "instrument"),
        ({"strategy": "abc"}, "strategy"),
        ({"start": "yesterday"}, "start"),
        ({"end": "2026-13-45"}, "end"),
        ({"start": "2026-01-06", "end": "2026-01-05"}, "end"),
    ],
)
def test_rejects_bad_filters_naming_the_field(db, params, field):
    with pytest.raises(ValidationError) as exc:
        trade_history_filters(params)
    assert field in exc.value.message_dict
