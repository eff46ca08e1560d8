"""Writes of the trading app."""

from __future__ import annotations

from django.db import transaction

from trading import reference_data
from trading.models import Account, Instrument, Sector, Venue


@transaction.atomic
def reference_data_ensure() -> dict[str, int]:
    """Create the default venues, accounts, sectors and instruments; idempotent.

    Existing rows are left as they are (an admin may have edited them).
    Returns how many rows of each kind were created.
    """
    created = {"sectors": 0, "venues": 0, "accounts": 0, "instruments": 0}
    sectors = {}
    for code, name in reference_data.SECTORS:
        sectors[code], made = Sector.objects.get_or_create(code=code, defaults={"name": name})
        created["sectors"] += made
    venues = {}
    for code, name, adapter in reference_data.VENUES:
        venues[code], made = Venue.objects.get_or_create(code=code, defaults={"name": name, "adapter": adapter})
        created["venues"] += made
    for name, venue, account_type, currency, balance, leverage in reference_data.ACCOUNTS:
        _, made = Account.objects.get_or_create(
            name=name,
            defaults={
                "venue": venues[venue],
                "account_type": account_type,
                "base_currency": currency,
                "starting_balance": balance,
                "leverage": leverage,
            },
        )
        created["accounts"] += made
    sim = venues["SIM"]
    for symbol, asset_class, sector, base, quote, tick, lot, min_qty, ref in reference_data.INSTRUMENTS:
        _, made = Instrument.objects.get_or_create(
            instrument_id=f"{symbol}.{sim.code}",
            defaults={
                "symbol": symbol,
                "venue": sim,
                "asset_class": asset_class,
                "sector": sectors[sector],
                "base_currency": base,
                "quote_currency": quote,
                "tick_size": tick,
                "lot_size": lot,
                "min_quantity": min_qty,
                "reference_price": ref,
            },
        )
        created["instruments"] += made
    return created
