"""Historical data: CSV import into the real Parquet catalog, query, export — exact, all-or-nothing."""

import io

import pyarrow.parquet as pq
import pytest

from tests.factories import make_reference_data
from trading.catalog.csv_format import CatalogImportError
from trading.catalog.store import catalog_contents, export_csv, export_parquet, import_csv, query_range

BARS = """timestamp,open,high,low,close,volume
2024-01-02T09:30:00.000000000Z,1.08500,1.08530,1.08490,1.08520,1200000
2024-01-02T09:31:00.000000000Z,1.08520,1.08550,1.08510,1.08540,900000
2024-01-02T09:32:00.000000000Z,1.08540,1.08560,1.08500,1.08505,1500000
"""
QUOTES = """timestamp,bid,ask,bid_size,ask_size
2024-01-02T09:30:00.000000001Z,1.08500,1.08502,1000000,2000000
2024-01-02T09:30:00.250000000Z,1.08501,1.08503,1000000,1000000
2024-01-02T09:30:01.000000000Z,1.08499,1.08502,3000000,1000000
"""
BINANCE_TRADES = """1001,65000.10,0.01500,975.00,1704187800000,true,true
1002,65000.20,0.00200,130.00,1704187800100,false,true
1003,64999.90,0.10000,6499.99,1704187801000,true,true
"""


@pytest.fixture
def catalog(db, tmp_path):
    make_reference_data()
    return tmp_path / "catalog"


def test_bars_round_trip_exactly_through_the_catalog(catalog):
    result = import_csv(kind="bars", instrument_id="EUR/USD.SIM", text=BARS, bar_spec="1-MINUTE-MID", path=catalog)
    assert result.rows == 3
    data = query_range(kind="bars", identifier=result.identifier, path=catalog)
    assert export_csv("bars", data) == BARS


def test_quotes_round_trip_and_a_range_query_returns_only_the_range(catalog):
    import_csv(kind="quotes", instrument_id="EUR/USD.SIM", text=QUOTES, path=catalog)
    everything = query_range(kind="quotes", identifier="EUR/USD.SIM", path=catalog)
    assert export_csv("quotes", everything) == QUOTES
    start = 1704187800_100000000  # after the first quote
    part = query_range(kind="quotes", identifier="EUR/USD.SIM", start=start, path=catalog)
    assert len(part) == 2
    table = pq.read_table(io.BytesIO(export_parquet("quotes", everything)))
    assert table.column("bid").to_pylist() == ["1.08500", "1.08501", "1.08499"]


def test_imports_binance_trade_history_layout(catalog):
    import_csv(kind="trades", instrument_id="BTC/USD.SIM", text=BINANCE_TRADES, path=catalog)
    out = export_csv("trades", query_range(kind="trades", identifier="BTC/USD.SIM", path=catalog))
    lines = out.splitlines()
    assert lines[0] == "timestamp,price,size,side,trade_id"
    assert lines[1] == "2024-01-02T09:30:00.000000000Z,65000.10,0.01500,SELL,1001"
    assert lines[2].endswith(",BUY,1002")
    assert [c["kind"] for c in catalog_contents(catalog)] == ["trades"]
    assert catalog_contents(catalog)[0]["rows"] == 3


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        (
            "bars",
            "timestamp,open,high,low\n2024-01-02T09:30:00Z,1,1,1\n",
            "upload.csv:1: header: missing column(s) close",
        ),
        ("bars", BARS.replace("1.08540,1.08560", "1.08540,1.08530", 1), "upload.csv:4: high:"),
        ("quotes", QUOTES.replace("1.08501,1.08503", "-1.08501,1.08503"), "upload.csv:3: bid: must be positive"),
        ("quotes", QUOTES.replace("09:30:01.000000000Z", "09:29:00.000000000Z"), "upload.csv:4: timestamp: not after"),
        ("quotes", QUOTES.replace("1.08499", "abc"), "upload.csv:4: bid: expected a number"),
        ("quotes", QUOTES.replace("1.08499", "1.084991"), "upload.csv:4: bid: 1.084991 has more than 5 decimals"),
        ("trades", "timestamp,price,size\nyesterday,1,1\n", "upload.csv:2: timestamp: expected an ISO 8601"),
    ],
)
def test_rejects_bad_csv_naming_file_line_and_field_and_writes_nothing(catalog, kind, text, expected):
    with pytest.raises(CatalogImportError) as exc:
        import_csv(kind=kind, instrument_id="EUR/USD.SIM", text=text, path=catalog)
    assert expected in str(exc.value)
    assert catalog_contents(catalog) == []


def test_rejects_unknown_instrument(catalog):
    with pytest.raises(CatalogImportError) as exc:
        import_csv(kind="quotes", instrument_id="NOPE.SIM", text=QUOTES, path=catalog)
    assert "instrument_id: unknown instrument 'NOPE.SIM'" in str(exc.value)


def test_rejects_an_overlapping_second_import_leaving_the_first_intact(catalog):
    import_csv(kind="quotes", instrument_id="EUR/USD.SIM", text=QUOTES, path=catalog)
    with pytest.raises(CatalogImportError):
        import_csv(kind="quotes", instrument_id="EUR/USD.SIM", text=QUOTES.replace("1.08500", "1.08400"), path=catalog)
    assert export_csv("quotes", query_range(kind="quotes", identifier="EUR/USD.SIM", path=catalog)) == QUOTES
