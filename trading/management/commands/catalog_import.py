"""Import a CSV of bars, quotes or trades into the Parquet catalog (all-or-nothing).

manage.py catalog_import quotes EUR/USD.SIM data/eurusd.csv
manage.py catalog_import bars EUR/USD.SIM data/eurusd_1m.csv --bar-spec 1-MINUTE-MID
manage.py catalog_import --list
manage.py catalog_export quotes EUR/USD.SIM out.csv --start 2024-01-02T00:00:00Z
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from trading.catalog.csv_format import CatalogImportError


class Command(BaseCommand):
    help = "Validate a CSV completely and import it into the catalog at NAUTILUS_DATA_PATH."

    def add_arguments(self, parser):
        parser.add_argument("kind", nargs="?", choices=["bars", "quotes", "trades"])
        parser.add_argument("instrument_id", nargs="?")
        parser.add_argument("file", nargs="?")
        parser.add_argument("--bar-spec", default="1-MINUTE-LAST", help="STEP-UNIT-PRICE, e.g. 1-MINUTE-MID")
        parser.add_argument("--list", action="store_true", help="list what the catalog holds")

    def handle(self, *args, **opts):
        from trading.catalog.store import catalog_contents, import_csv

        if opts["list"]:
            for e in catalog_contents():
                self.stdout.write(
                    f"{e['kind']:7} {e['identifier']:40} {e['rows']:>10} rows  {e['start']} .. {e['end']}"
                )
            return
        if not (opts["kind"] and opts["instrument_id"] and opts["file"]):
            raise CommandError("usage: catalog_import KIND INSTRUMENT_ID FILE (or --list)")
        path = Path(opts["file"])
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}")
        try:
            result = import_csv(
                kind=opts["kind"],
                instrument_id=opts["instrument_id"],
                text=text,
                source=path.name,
                bar_spec=opts["bar_spec"],
                progress=lambda m: self.stdout.write(f"  {m}"),
            )
        except CatalogImportError as exc:
            for err in exc.errors:
                self.stderr.write(err)
            raise CommandError("nothing was imported")
        self.stdout.write(
            self.style.SUCCESS(
                f"imported {result.rows} {result.kind} for {result.identifier} ({result.start} .. {result.end})"
            )
        )
