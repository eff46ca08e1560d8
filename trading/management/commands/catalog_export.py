"""Export a range of catalog data as CSV or Parquet.

``manage.py catalog_export KIND IDENTIFIER OUT [--start --end]``."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Query a range of bars/quotes/trades from the catalog and write it as CSV or Parquet (by OUT's suffix)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["bars", "quotes", "trades"])
        parser.add_argument("identifier", help="instrument id, or bar type for bars")
        parser.add_argument("out")
        parser.add_argument("--start")
        parser.add_argument("--end")

    def handle(self, *args, **opts):
        from trading.catalog.csv_format import parse_timestamp
        from trading.catalog.store import export_csv, export_parquet, query_range

        try:
            start = parse_timestamp(opts["start"]) if opts["start"] else None
            end = parse_timestamp(opts["end"]) if opts["end"] else None
        except ValueError as exc:
            raise CommandError(f"--start/--end: {exc}")
        data = query_range(kind=opts["kind"], identifier=opts["identifier"], start=start, end=end)
        out = Path(opts["out"])
        if out.suffix == ".parquet":
            out.write_bytes(export_parquet(opts["kind"], data))
        else:
            out.write_text(export_csv(opts["kind"], data))
        self.stdout.write(self.style.SUCCESS(f"wrote {len(data)} rows to {out}"))
