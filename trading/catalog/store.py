"""The Parquet catalog at ``NAUTILUS_DATA_PATH``: import, browse, query, export.

Nautilus is imported lazily inside each function: the web process only pays
for it when someone actually imports or exports data.

Import is all-or-nothing: the whole file is parsed and validated (values,
order, the instrument's price/size precision) before a single
``write_data`` call, and Nautilus refuses a file whose time range overlaps
data already in the catalog, so a partial or duplicate import cannot happen.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings

from trading.catalog.csv_format import CatalogImportError, Row, format_timestamp, parse_csv
from trading.models import Instrument

BAR_STEPS = ("SECOND", "MINUTE", "HOUR", "DAY")
TYPE_NAMES = {"bars": "bar", "quotes": "quote_tick", "trades": "trade_tick"}


@dataclass(frozen=True)
class ImportResult:
    kind: str
    identifier: str
    rows: int
    start: str
    end: str


def _catalog(path: str | Path | None = None):
    from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog

    path = Path(path or settings.NAUTILUS_DATA_PATH)
    path.mkdir(parents=True, exist_ok=True)
    return ParquetDataCatalog(str(path))


def bar_type_for(instrument_id: str, spec: str) -> str:
    """``spec`` like "1-MINUTE-LAST" → "EUR/USD.SIM-1-MINUTE-LAST-EXTERNAL" (validated)."""
    parts = spec.strip().upper().split("-")
    if (
        len(parts) != 3
        or not parts[0].isdigit()
        or int(parts[0]) <= 0
        or parts[1] not in BAR_STEPS
        or parts[2] not in ("BID", "ASK", "MID", "LAST")
    ):
        raise CatalogImportError([f"bar_spec: expected STEP-UNIT-PRICE like 1-MINUTE-LAST, got {spec!r}"])
    return f"{instrument_id}-{parts[0]}-{parts[1]}-{parts[2]}-EXTERNAL"


def _check_precision(rows: list[Row], fields: dict[str, int], source: str) -> None:
    errors = []
    for row in rows:
        for name, precision in fields.items():
            value = row.values.get(name)
            if isinstance(value, Decimal) and -value.normalize().as_tuple().exponent > precision:
                errors.append(f"{source}:{row.line}: {name}: {value} has more than {precision} decimals")
        if len(errors) >= 20:
            break
    if errors:
        raise CatalogImportError(errors)


def import_csv(
    *,
    kind: str,
    instrument_id: str,
    text: str,
    source: str = "upload.csv",
    bar_spec: str = "1-MINUTE-LAST",
    path: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Validate ``text`` completely, then write it to the catalog in one piece."""
    say = progress or (lambda msg: None)
    instrument = Instrument.objects.filter(instrument_id=instrument_id).first()
    if instrument is None:
        raise CatalogImportError([f"instrument_id: unknown instrument {instrument_id!r}"])
    bar_type = bar_type_for(instrument_id, bar_spec) if kind == "bars" else None
    say(f"parsing {source}")
    rows = parse_csv(kind, text, source=source)
    say(f"validated {len(rows)} rows")
    pp, sp = instrument.price_precision, instrument.size_precision
    price_fields = {"bars": ("open", "high", "low", "close"), "quotes": ("bid", "ask"), "trades": ("price",)}[kind]
    size_fields = {"bars": ("volume",), "quotes": ("bid_size", "ask_size"), "trades": ("size",)}[kind]
    _check_precision(rows, {**{f: pp for f in price_fields}, **{f: sp for f in size_fields}}, source)

    from trading.node.instruments import build_instrument

    nautilus_instrument = build_instrument(instrument)
    data = _to_nautilus(kind, rows, nautilus_instrument, bar_type, pp, sp)
    catalog = _catalog(path)
    say(f"writing {len(data)} {kind} to the catalog")
    try:
        catalog.write_data([nautilus_instrument])
    except ValueError:
        pass  # the instrument definition is already there
    start, end = data[0].ts_init, data[-1].ts_init
    for a, b in catalog.get_intervals(_data_cls(kind), bar_type or instrument_id):
        if a <= end and start <= b:
            raise CatalogImportError(
                [
                    f"{source}: {format_timestamp(start)}..{format_timestamp(end)} overlaps {kind} already in the "
                    f"catalog for {bar_type or instrument_id} ({format_timestamp(a)}..{format_timestamp(b)})"
                ]
            )
    try:
        catalog.write_data(data)
    except ValueError as exc:
        raise CatalogImportError([f"{source}: {exc}"])
    return ImportResult(
        kind, bar_type or instrument_id, len(data), format_timestamp(rows[0].ts_ns), format_timestamp(rows[-1].ts_ns)
    )


def _to_nautilus(kind, rows, instrument, bar_type, pp, sp):
    from nautilus_trader.model.data import Bar, BarType, QuoteTick, TradeTick
    from nautilus_trader.model.enums import AggressorSide
    from nautilus_trader.model.identifiers import TradeId
    from nautilus_trader.model.objects import Price, Quantity

    def price(v):
        return Price(v, pp)

    def qty(v, default=Decimal(0)):
        return Quantity(v if v is not None else default, sp)

    out = []
    if kind == "bars":
        bt = BarType.from_str(bar_type)
        for r in rows:
            v = r.values
            out.append(
                Bar(
                    bt,
                    price(v["open"]),
                    price(v["high"]),
                    price(v["low"]),
                    price(v["close"]),
                    qty(v["volume"]),
                    r.ts_ns,
                    r.ts_ns,
                )
            )
    elif kind == "quotes":
        for r in rows:
            v = r.values
            out.append(
                QuoteTick(
                    instrument.id,
                    price(v["bid"]),
                    price(v["ask"]),
                    qty(v["bid_size"]),
                    qty(v["ask_size"]),
                    r.ts_ns,
                    r.ts_ns,
                )
            )
    else:
        sides = {"BUY": AggressorSide.BUYER, "SELL": AggressorSide.SELLER}
        for n, r in enumerate(rows):
            v = r.values
            out.append(
                TradeTick(
                    instrument.id,
                    price(v["price"]),
                    qty(v["size"]),
                    sides.get(v.get("side") or "", AggressorSide.NO_AGGRESSOR),
                    TradeId(v.get("trade_id") or f"{r.ts_ns}-{n}"),
                    r.ts_ns,
                    r.ts_ns,
                )
            )
    return out


# -- reading ------------------------------------------------------------------------------------


def _data_cls(kind: str):
    from nautilus_trader.model.data import Bar, QuoteTick, TradeTick

    return {"bars": Bar, "quotes": QuoteTick, "trades": TradeTick}[kind]


def catalog_contents(path: str | Path | None = None) -> list[dict]:
    """What the catalog holds: one entry per (kind, identifier) with range and row count."""
    import pyarrow.parquet as pq

    root = Path(path or settings.NAUTILUS_DATA_PATH) / "data"
    entries = []
    catalog = None
    for kind, dirname in TYPE_NAMES.items():
        base = root / dirname
        if not base.is_dir():
            continue
        for ident_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            files = sorted(ident_dir.glob("*.parquet"))
            if not files:
                continue
            catalog = catalog or _catalog(path)
            identifier = _identifier_from_dir(kind, ident_dir.name, files[0])
            intervals = catalog.get_intervals(_data_cls(kind), identifier)
            entries.append(
                {
                    "kind": kind,
                    "identifier": identifier,
                    "rows": sum(pq.ParquetFile(f).metadata.num_rows for f in files),
                    "files": len(files),
                    "start": format_timestamp(min(i[0] for i in intervals)) if intervals else "",
                    "end": format_timestamp(max(i[1] for i in intervals)) if intervals else "",
                }
            )
    return entries


def _identifier_from_dir(kind: str, dirname: str, sample) -> str:
    # Directory names are the identifier made URI-safe ("/" removed); the
    # Parquet metadata keeps the real one.
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(sample).schema_arrow.metadata or {}
    key = b"bar_type" if kind == "bars" else b"instrument_id"
    return meta.get(key, dirname.encode()).decode()


def query_range(
    *,
    kind: str,
    identifier: str,
    start: int | None = None,
    end: int | None = None,
    path: str | Path | None = None,
    limit: int | None = None,
) -> list:
    catalog = _catalog(path)
    data = catalog.query(_data_cls(kind), identifiers=[identifier], start=start, end=end)
    return data[:limit] if limit else data


def catalog_quote_ticks(path: str, instrument_id: str) -> list:
    root = Path(path) / "data" / "quote_tick"
    if not root.is_dir():
        return []
    try:
        return query_range(kind="quotes", identifier=instrument_id, path=path)
    except Exception:
        return []


def export_rows(kind: str, data: list) -> tuple[list[str], list[list[str]]]:
    """Exact text rows (prices at the instrument's precision, ISO timestamps with ns)."""
    if kind == "bars":
        header = ["timestamp", "open", "high", "low", "close", "volume"]
        rows = [
            [format_timestamp(b.ts_event), str(b.open), str(b.high), str(b.low), str(b.close), str(b.volume)]
            for b in data
        ]
    elif kind == "quotes":
        header = ["timestamp", "bid", "ask", "bid_size", "ask_size"]
        rows = [
            [format_timestamp(q.ts_event), str(q.bid_price), str(q.ask_price), str(q.bid_size), str(q.ask_size)]
            for q in data
        ]
    else:
        header = ["timestamp", "price", "size", "side", "trade_id"]
        side = {1: "BUY", 2: "SELL"}
        rows = [
            [
                format_timestamp(t.ts_event),
                str(t.price),
                str(t.size),
                side.get(
                    int(t.aggressor_side.value) if hasattr(t.aggressor_side, "value") else int(t.aggressor_side), ""
                ),
                str(t.trade_id),
            ]
            for t in data
        ]
    return header, rows


def export_csv(kind: str, data: list) -> str:
    header, rows = export_rows(kind, data)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def export_parquet(kind: str, data: list) -> bytes:
    """A plain Parquet table of the same exact text columns (readable without Nautilus)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    header, rows = export_rows(kind, data)
    table = pa.table({name: [r[i] for r in rows] for i, name in enumerate(header)})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()
