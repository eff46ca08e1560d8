"""The kill switch: stop (or reduce-only) trading for a scope, from a person or a breach.

The state lives in PostgreSQL (``KillSwitch`` row per scope, ``KillSwitchEvent``
history) so it survives any restart. After commit it is mirrored to Redis
(``ni:killswitch:state`` hash, plus the ``ni:killswitch:global`` contract key of
``risk.status``) and published on the gate channel, where every gate — in
every web, worker and node process — applies it within milliseconds, and on the
``risk`` live topic for pages. The message format is in ``risk.gate.events`` and
docs/risk-gate.md (the node sets Nautilus ``TradingState`` from it).
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from monitoring.audit import audit_record
from monitoring.broadcast import publish_on_commit
from monitoring.redis_client import redis_client
from monitoring.roles import Role, has_role
from risk.gate.events import gate_publish
from risk.models import SCOPE_FIELDS, KillSwitch, KillSwitchEvent, Scope
from risk.status import KILL_SWITCH_GLOBAL_KEY

STATE_KEY = "ni:killswitch:state"
MODES = {m.value for m in KillSwitch.Mode}


def _resolve_target(scope: str, target: Any) -> dict[str, Any]:
    """The FK kwargs for a scope; ``target`` may be a model instance, a pk, or an instrument id string."""
    from strategies.models import Strategy
    from trading.models import Account, Instrument, Sector

    if scope not in Scope.values:
        raise ValidationError({"scope": f"Unknown scope {scope!r}; one of {', '.join(Scope.values)}."})
    if scope == Scope.GLOBAL:
        if target not in (None, ""):
            raise ValidationError({"target": "A global kill switch has no target."})
        return {}
    if target in (None, ""):
        raise ValidationError({"target": f"A {scope} kill switch needs a target."})
    model = {"account": Account, "strategy": Strategy, "instrument": Instrument, "sector": Sector}[scope]
    if isinstance(target, model):
        return {SCOPE_FIELDS[scope]: target}
    try:
        if scope == Scope.INSTRUMENT and isinstance(target, str) and not target.isdigit():
            obj = Instrument.objects.get(instrument_id=target)
        else:
            obj = model.objects.get(pk=int(target))
    except (model.DoesNotExist, ValueError, TypeError):
        raise ValidationError({"target": f"No {scope} {target!r}."})
    return {SCOPE_FIELDS[scope]: obj}


def kill_switch_target_check(*, scope: str, target: Any) -> None:
    """Raise ``ValidationError`` (field ``scope`` or ``target``) when the pair names nothing."""
    _resolve_target(scope, target)


def _gate_target(ks: KillSwitch) -> Any:
    if ks.scope == Scope.INSTRUMENT:
        return ks.instrument.instrument_id
    field = SCOPE_FIELDS.get(ks.scope)
    return getattr(ks, f"{field}_id") if field else None


def kill_switch_message(ks: KillSwitch, *, cancel_open: bool = False) -> dict[str, Any]:
    return {
        "type": "kill_switch",
        "scope": ks.scope,
        "target": _gate_target(ks),
        "engaged": ks.engaged,
        "mode": ks.mode,
        "reason": ks.reason,
        "automatic": ks.automatic,
        "cancel_open": cancel_open,
        "at": time.time(),
    }


def _mirror(message: dict[str, Any]) -> None:
    field = f"{message['scope']}:{message['target'] if message['target'] is not None else ''}"
    r = redis_client()
    pipe = r.pipeline()
    pipe.hset(STATE_KEY, field, json.dumps(message))
    if message["scope"] == Scope.GLOBAL:
        pipe.set(
            KILL_SWITCH_GLOBAL_KEY,
            json.dumps({"engaged": message["engaged"], "mode": message["mode"], "reason": message["reason"]}),
        )
    pipe.execute()


def _after_commit(message: dict[str, Any]) -> None:
    try:
        _mirror(message)
    finally:
        # Publish even if the mirror failed: gates must hear it. If Redis is down
        # entirely, every gate has lost its channel and rejects anyway, and the
        # state is reloaded from PostgreSQL when it returns.
        gate_publish(message)


def _check_actor(user, automatic: bool) -> None:
    if automatic:
        return
    if not has_role(user, Role.RISK_MANAGER):
        raise PermissionDenied("Only a Risk Manager or an Admin can operate the kill switch.")


def _set(
    *, scope: str, target: Any, engaged: bool, mode: str, reason: str, user, automatic: bool, cancel_open: bool
) -> KillSwitch:
    _check_actor(user, automatic)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "A reason is required."})
    if mode not in MODES:
        raise ValidationError({"mode": f"Unknown mode {mode!r}; one of {', '.join(sorted(MODES))}."})
    refs = _resolve_target(scope, target)
    actor = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        ks, _ = KillSwitch.objects.select_for_update(of=("self",)).get_or_create(scope=scope, **refs)
        before = {"engaged": ks.engaged, "mode": ks.mode}
        ks.engaged = engaged
        ks.mode = mode
        ks.reason = reason
        ks.changed_by = actor
        ks.automatic = automatic
        ks.save()
        KillSwitchEvent.objects.create(
            kill_switch=ks, engaged=engaged, mode=mode, reason=reason, actor=actor, automatic=automatic
        )
        audit_record(
            actor=actor,
            action="kill_switch.engage" if engaged else "kill_switch.disengage",
            obj=ks,
            changes={k: [before[k], v] for k, v in {"engaged": engaged, "mode": mode}.items() if before[k] != v},
            message=reason,
            via="system" if automatic else None,
        )
        message = kill_switch_message(ks, cancel_open=cancel_open)
        transaction.on_commit(lambda: _after_commit(message))
        publish_on_commit("risk", "kill_switch", {**message, "label": ks.scope_label})
        # Every open page listens to "status": its header badge changes now, not at the next status push.
        transaction.on_commit(_publish_badge)
    return ks


def _publish_badge() -> None:
    from monitoring.broadcast import publish
    from monitoring.status import kill_switch_summary

    publish("status", "kill_switch", kill_switch_summary())  # queued; never raises for Redis


def kill_switch_engage(
    *,
    scope: str,
    target: Any = None,
    mode: str = KillSwitch.Mode.HALT,
    reason: str,
    user,
    cancel_open: bool = False,
    automatic: bool = False,
) -> KillSwitch:
    """Engage the kill switch for a scope. ``cancel_open`` asks the node to cancel the scope's
    open orders (carried in the channel message; order cancellation itself is the order pipeline's)."""
    return _set(
        scope=scope,
        target=target,
        engaged=True,
        mode=mode,
        reason=reason,
        user=user,
        automatic=automatic,
        cancel_open=cancel_open,
    )


def kill_switch_disengage(*, scope: str, target: Any = None, reason: str, user, automatic: bool = False) -> KillSwitch:
    refs = _resolve_target(scope, target)
    current = KillSwitch.objects.filter(scope=scope, **refs).first()
    mode = current.mode if current else KillSwitch.Mode.HALT
    return _set(
        scope=scope,
        target=target,
        engaged=False,
        mode=mode,
        reason=reason,
        user=user,
        automatic=automatic,
        cancel_open=False,
    )


def kill_switch_mirror_all() -> int:
    """Write every scope's state from PostgreSQL to Redis (start-up, and each risk-monitor run)."""
    rows = list(KillSwitch.objects.select_related("instrument"))
    if not any(ks.scope == Scope.GLOBAL for ks in rows):
        redis_client().set(KILL_SWITCH_GLOBAL_KEY, json.dumps({"engaged": False, "mode": "halt", "reason": ""}))
    for ks in rows:
        _mirror(kill_switch_message(ks))
    return len(rows)


def flatten_preview(*, scope: str, target: Any = None) -> list[dict[str, Any]]:
    """The market orders that would flatten every position in the scope. Nothing is sent."""
    from portfolio.models import Position

    refs = _resolve_target(scope, target)
    positions = Position.objects.exclude(quantity=0).select_related("account", "instrument", "strategy")
    if scope == Scope.ACCOUNT:
        positions = positions.filter(account=refs["account"])
    elif scope == Scope.STRATEGY:
        positions = positions.filter(strategy=refs["strategy"])
    elif scope == Scope.INSTRUMENT:
        positions = positions.filter(instrument=refs["instrument"])
    elif scope == Scope.SECTOR:
        positions = positions.filter(instrument__sector=refs["sector"])
    preview = []
    for p in positions.order_by("account_id", "instrument__instrument_id", "strategy_id"):
        preview.append(
            {
                "account_id": p.account_id,
                "account": p.account.name,
                "instrument_id": p.instrument.instrument_id,
                "strategy_id": p.strategy_id,
                "strategy": p.strategy.name if p.strategy else "",
                "side": "SELL" if p.quantity > 0 else "BUY",
                "order_type": "MARKET",
                "quantity": str(abs(p.quantity)),
                "reduce_only": True,
                "position_quantity": str(p.quantity),
                "mark_price": str(p.mark_price) if p.mark_price is not None else None,
            }
        )
    return preview


def kill_switch_states() -> list[dict[str, Any]]:
    return [
        {**kill_switch_message(ks), "label": ks.scope_label, "changed_at": ks.changed_at.isoformat()}
        for ks in KillSwitch.objects.select_related("account", "strategy", "instrument", "sector")
    ]
