"""What the order ticket shows before anything is placed: field errors, sizes, prices,
buying power, and the risk gate's verdict on the order as it stands.

Nothing here writes. The preview runs the gate's checks on the process's live
snapshot *without reserving* (``reserve=False``), under a throwaway client order
id, so previewing never holds headroom another order needs. Checks only the
atomic reservation can decide (order rate, open-order count) are therefore not
in a preview; they are judged when the order is placed.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError

from trading import selectors
from trading.models import Account, Instrument
from trading.order_entry import OrderRequest, order_request_check

PREVIEW_NOTE = "Order-rate and open-order limits are counted when the order is placed, not in a preview."

_preview_gate = None


def _gate():
    # Its own instance so previews do not count in the deciding gate's approve/reject stats;
    # it shares the process's snapshot runtime.
    global _preview_gate
    if _preview_gate is None:
        from risk.gate.gate import LiveTradingRiskGate

        _preview_gate = LiveTradingRiskGate(reserve=False)
    return _preview_gate


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value


def _lookup(model, ref, field: str):
    if ref in (None, ""):
        return None
    query = model.objects.select_related("venue")
    try:
        return query.get(pk=int(ref)) if str(ref).isdigit() else query.get(**{field: ref})
    except (model.DoesNotExist, ValueError):
        return None


def ticket_check(*, data: dict[str, Any], user) -> dict[str, Any]:
    """Validate the ticket as typed. Returns ``{"ok", "errors", "instrument", "buying_power"}``;
    ``errors`` maps each bad field to one message. The instrument and buying power are
    filled whenever they can be resolved, even when other fields are wrong."""
    errors: dict[str, str] = {}
    request: OrderRequest | None = None
    try:
        request = order_request_check(data=data, user=user)
    except ValidationError as exc:
        errors = {field: " ".join(messages) for field, messages in exc.message_dict.items()}
    instrument = request.instrument if request else _lookup(Instrument, data.get("instrument"), "instrument_id")
    account = request.account if request else _lookup(Account, data.get("account"), "name")
    info = selectors.instrument_ticket_info(instrument) if instrument else None
    power = selectors.account_buying_power(account) if account else None
    return {
        "ok": not errors,
        "errors": errors,
        "request": request,
        "instrument": {k: _plain(v) for k, v in info.items()} if info else None,
        "buying_power": {k: _plain(v) for k, v in power.items()} if power else None,
    }


def _check_json(check) -> dict[str, Any]:
    # The gate's arithmetic carries 20+ decimal places; the ticket shows the exact value, unpadded.
    from decimal import Decimal, InvalidOperation

    data = check.as_json()
    for name in ("measured", "limit"):
        try:
            data[name] = None if data[name] is None else format(Decimal(data[name]).normalize(), "f")
        except InvalidOperation:
            pass  # a word, e.g. the kill switch's mode
    return data


def order_preview(*, request: OrderRequest) -> dict[str, Any]:
    """The gate's checks on ``request`` without reserving: which limits this order would hit."""
    from risk.gate.request import order_request_build

    gate_request = order_request_build(
        client_order_id=f"PREVIEW-{uuid.uuid4().hex[:16]}",
        account_id=request.account.pk,
        instrument_id=request.instrument.instrument_id,
        side=request.side,
        order_type=request.order_type,
        quantity=request.quantity,
        price=request.price,
        trigger_price=request.trigger_price,
        strategy_id=request.strategy_id,
        reduce_only=request.reduce_only,
    )
    decision = _gate().validate_order_sync(gate_request)
    quote = decision.inputs.get("quote") if decision.inputs else None
    return {
        "approved": decision.approved,
        "reason_codes": decision.reason_codes,
        "message": decision.message,
        "checks": [_check_json(c) for c in decision.checks],
        # The prices the gate judged with: a preview without them cannot approve anything.
        "bid": _plain(quote["bid"]) if isinstance(quote, dict) else None,
        "ask": _plain(quote["ask"]) if isinstance(quote, dict) else None,
        "elapsed_us": decision.elapsed_us,
        "note": PREVIEW_NOTE,
    }
