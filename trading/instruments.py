"""Writes on the instrument universe (Admin): create and edit.

The Nautilus id is derived (``SYMBOL.VENUE``), never typed, so it cannot drift
from the symbol and venue it names.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from monitoring.audit import audit_record, field_changes, snapshot
from monitoring.broadcast import publish_on_commit
from trading.models import Instrument

EDITABLE_FIELDS = (
    "symbol",
    "venue",
    "asset_class",
    "sector",
    "base_currency",
    "quote_currency",
    "tick_size",
    "lot_size",
    "min_quantity",
    "max_quantity",
    "multiplier",
    "tradable",
    "reference_price",
)


def _check(instrument: Instrument) -> None:
    instrument.symbol = (instrument.symbol or "").strip()
    instrument.base_currency = (instrument.base_currency or "").strip().upper()
    instrument.quote_currency = (instrument.quote_currency or "").strip().upper()
    if instrument.symbol and instrument.venue_id:
        instrument.instrument_id = f"{instrument.symbol}.{instrument.venue.code}"
    errors: dict[str, list[str]] = {}
    # The table's check constraints, said per field rather than as an anonymous constraint name.
    for name in ("tick_size", "lot_size"):
        value = getattr(instrument, name)
        if value is not None and value <= 0:
            errors[name] = ["Must be greater than zero."]
    try:
        # Field validators, uniqueness and the remaining constraints, before any write.
        instrument.full_clean(exclude=list(errors))
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def instrument_create(*, user, via: str | None = None, **fields: Any) -> Instrument:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"instrument_create() got unexpected fields {sorted(unknown)}")
    instrument = Instrument(**fields)
    _check(instrument)
    instrument.save()
    audit_record(
        actor=user,
        action="instrument.create",
        obj=instrument,
        changes=field_changes({}, snapshot(instrument, EDITABLE_FIELDS)),
        via=via,
    )
    publish_on_commit("node", "instrument_changed", {"id": instrument.pk, "instrument_id": instrument.instrument_id})
    return instrument


@transaction.atomic
def instrument_update(*, instrument: Instrument, user, via: str | None = None, **changes: Any) -> Instrument:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"instrument_update() got unexpected fields {sorted(unknown)}")
    current = Instrument.objects.select_for_update(of=("self",)).get(pk=instrument.pk)
    before = snapshot(current, (*EDITABLE_FIELDS, "instrument_id"))
    for name, value in changes.items():
        setattr(current, name, value)
    _check(current)
    diff = field_changes(before, snapshot(current, (*EDITABLE_FIELDS, "instrument_id")))
    if diff:
        current.save()
        audit_record(actor=user, action="instrument.update", obj=current, changes=diff, via=via)
        publish_on_commit("node", "instrument_changed", {"id": current.pk, "instrument_id": current.instrument_id})
    return current
