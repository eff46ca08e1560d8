"""The signal router: validate -> deduplicate -> route (rules, load balancing, failover) -> order.

Signals arrive from the API, from per-source webhooks (HMAC) and from
strategies; every signal and its routing decision is stored, whatever happens
to it. A routed signal becomes an ordinary desk order (``order_entry``), so it
passes the same validation and risk gate as an order typed in the browser.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from monitoring.broadcast import publish_on_commit
from monitoring.models import Alert
from monitoring.redis_client import redis_client
from trading.models import Account, Instrument, OrderSource
from trading.signal_router.models import Signal, SignalRoute, SignalSource

logger = logging.getLogger(__name__)
# Webhook requests signed more than this long ago (or in the future) are refused: replay protection.
SIGNATURE_TOLERANCE_SECONDS = 300


# -- authentication of webhooks -------------------------------------------------------------


def source_secret(source: SignalSource) -> str:
    from trading.credentials import credentials_decrypt

    return credentials_decrypt(source.secret_encrypted).get("hmac_secret", "") if source.secret_encrypted else ""


def source_secret_set(*, source: SignalSource, secret: str) -> None:
    from trading.credentials import credentials_encrypt

    if len(secret) < 16:
        raise ValidationError({"secret": "At least 16 characters."})
    source.secret_encrypted = credentials_encrypt({"hmac_secret": secret})
    source.save(update_fields=["secret_encrypted"])


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"`` — what a sender puts in X-Signature."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def webhook_verify(*, source: SignalSource, timestamp: str, signature: str, body: bytes) -> None:
    """Raises PermissionError with the reason when the request is not from the source."""
    secret = source_secret(source)
    if not secret:
        raise PermissionError("this source has no webhook secret configured")
    if not timestamp or not signature:
        raise PermissionError("missing X-Timestamp or X-Signature header")
    try:
        sent = int(timestamp)
    except ValueError:
        raise PermissionError("X-Timestamp must be Unix seconds")
    if abs(timezone.now().timestamp() - sent) > SIGNATURE_TOLERANCE_SECONDS:
        raise PermissionError("X-Timestamp is too far from now (replayed or clock skew)")
    if not hmac.compare_digest(webhook_signature(secret, timestamp, body), signature.lower()):
        raise PermissionError("signature does not match")


# -- validation -------------------------------------------------------------------------------


def _decimal(errors: dict, field: str, raw: Any) -> Decimal | None:
    if raw in (None, ""):
        return None
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        errors[field] = f"'{raw}' is not a number."
        return None
    if not value.is_finite():
        errors[field] = "Must be a finite number."
        return None
    return value


def signal_check(*, source: SignalSource, data: dict[str, Any]) -> dict[str, Any]:
    """Validate a signal payload; returns clean fields or raises ValidationError naming each bad field."""
    if not isinstance(data, dict):
        raise ValidationError({"__all__": "The signal must be a JSON object."})
    errors: dict[str, str] = {}
    instrument = None
    ref = data.get("instrument")
    try:
        instrument = Instrument.objects.get(instrument_id=str(ref))
    except Instrument.DoesNotExist:
        errors["instrument"] = f"Unknown instrument '{ref}'."
    if (
        instrument is not None
        and source.allowed_instruments.exists()
        and not source.allowed_instruments.filter(pk=instrument.pk).exists()
    ):
        errors["instrument"] = f"Source {source} may not send signals for {instrument}."
    side = str(data.get("side") or "").upper()
    quantity = _decimal(errors, "quantity", data.get("quantity"))
    target = _decimal(errors, "target_position", data.get("target_position"))
    strength = _decimal(errors, "strength", data.get("strength", "1"))
    if quantity is None and target is None and "quantity" not in errors and "target_position" not in errors:
        errors["quantity"] = "Give a quantity (with a side) or a target_position."
    if quantity is not None:
        if quantity <= 0:
            errors["quantity"] = "Must be greater than zero."
        if side not in ("BUY", "SELL"):
            errors["side"] = "Must be BUY or SELL when a quantity is given."
    if strength is not None and not (Decimal("0") < strength <= Decimal("1")):
        errors["strength"] = "Must be in (0, 1]."
    ttl = data.get("ttl_seconds")
    if ttl not in (None, ""):
        if not str(ttl).isdigit() or int(ttl) <= 0:
            errors["ttl_seconds"] = "Must be a positive whole number of seconds."
    raw_time = data.get("time")
    signal_time = timezone.now()
    if raw_time not in (None, ""):
        parsed = raw_time if isinstance(raw_time, datetime) else parse_datetime(str(raw_time))
        if parsed is None:
            errors["time"] = "Must be an ISO 8601 timestamp."
        else:
            signal_time = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, timezone.UTC)
    strategy_id = None
    if data.get("strategy") not in (None, ""):
        from strategies.models import Strategy

        strategy_id = (
            Strategy.objects.filter(pk=data["strategy"] if str(data["strategy"]).isdigit() else None)
            .values_list("pk", flat=True)
            .first()
        )
        if strategy_id is None:
            errors["strategy"] = f"Unknown strategy '{data['strategy']}'."
    external_id = str(data.get("id") or "")[:128]
    if errors:
        raise ValidationError(errors)
    return {
        "instrument": instrument,
        "side": side if quantity is not None else "",
        "quantity": quantity,
        "target_position": target,
        "strength": strength or Decimal("1"),
        "ttl_seconds": int(ttl) if ttl not in (None, "") else None,
        "signal_time": signal_time,
        "strategy_id": strategy_id,
        "external_id": external_id,
    }


def _dedup_hash(source: SignalSource, clean: dict) -> str:
    if clean["external_id"]:
        basis = f"id:{clean['external_id']}"
    else:
        basis = json.dumps(
            [
                clean["instrument"].instrument_id,
                clean["side"],
                str(clean["quantity"]),
                str(clean["target_position"]),
                clean["strategy_id"],
            ],
        )
    return hashlib.sha256(f"{source.pk}|{basis}".encode()).hexdigest()


# -- routing ----------------------------------------------------------------------------------


def _route_available(route: SignalRoute) -> str | None:
    """None when the route's venue can take orders, else why not."""
    account = route.account
    if account.status != Account.Status.CONNECTED:
        return f"account {account} is {account.status}{': ' + account.status_reason if account.status_reason else ''}"
    failures = redis_client().get(f"ni:route:{route.pk}:rejecting")
    if failures:
        return "venue rejected recent orders on this route"
    return None


def _exposure(account: Account, instrument: Instrument) -> Decimal:
    from portfolio.models import Position

    total = Decimal("0")
    for quantity, price in Position.objects.filter(account=account).values_list("quantity", "avg_price"):
        total += abs(quantity * price)
    return total


def _candidates(source: SignalSource, clean: dict) -> list[SignalRoute]:
    routes = (
        SignalRoute.objects.select_related("account", "account__venue")
        .filter(enabled=True)
        .filter(Q(source=source) | Q(source__isnull=True))
        .filter(Q(instrument=clean["instrument"]) | Q(instrument__isnull=True))
        .filter(Q(strategy_id=clean["strategy_id"]) | Q(strategy__isnull=True))
        .filter(account__venue=clean["instrument"].venue)
    )
    # Specific rules before generic ones at the same priority.
    return sorted(
        routes,
        key=lambda r: (r.priority, -(bool(r.source_id) + bool(r.instrument_id) + bool(r.strategy_id)), r.group, r.pk),
    )


def route_choose(source: SignalSource, clean: dict) -> tuple[SignalRoute | None, dict]:
    """Pick a route: the first (priority, group) tier with an available route; within it, balance."""
    decision: dict[str, Any] = {"considered": [], "chosen": None}
    tiers: dict[tuple, list[SignalRoute]] = {}
    for route in _candidates(source, clean):
        tiers.setdefault((route.priority, route.group), []).append(route)
    for (priority, group), routes in tiers.items():
        available = []
        for route in routes:
            why_not = _route_available(route)
            decision["considered"].append(
                {
                    "route": route.pk,
                    "name": route.name,
                    "account": route.account.name,
                    "available": why_not is None,
                    "reason": why_not or "",
                }
            )
            if why_not is None:
                available.append(route)
        if not available:
            continue  # fail over to the next tier
        if len(available) == 1:
            chosen = available[0]
        elif available[0].balance == SignalRoute.Balance.LEAST_EXPOSURE:
            chosen = min(available, key=lambda r: (_exposure(r.account, clean["instrument"]), r.pk))
        else:
            turn = redis_client().incr(f"ni:route:rr:{priority}:{group}")
            chosen = available[(turn - 1) % len(available)]
        decision["chosen"] = chosen.pk
        decision["tier"] = {"priority": priority, "group": group, "balance": chosen.balance}
        return chosen, decision
    return None, decision


def _size(route: SignalRoute, signal: Signal) -> tuple[str, Decimal] | None:
    """(side, quantity) of the order this signal asks for on this route, or None for nothing to do."""
    if route.sizing == SignalRoute.Sizing.TARGET_POSITION or (
        signal.quantity is None and signal.target_position is not None
    ):
        from django.db.models import Sum

        from portfolio.models import Position

        current = Position.objects.filter(account=route.account, instrument=signal.instrument).aggregate(
            q=Sum("quantity")
        )["q"] or Decimal("0")
        delta = signal.target_position - current
        if delta == 0:
            return None
        return ("BUY" if delta > 0 else "SELL"), abs(delta)
    if route.sizing == SignalRoute.Sizing.FIXED:
        return signal.side, route.fixed_quantity
    if route.sizing == SignalRoute.Sizing.SCALED:
        raw = signal.quantity * route.scale * signal.strength
        lot = signal.instrument.lot_size
        sized = (raw / lot).to_integral_value() * lot
        return (signal.side, sized) if sized > 0 else None
    return signal.side, signal.quantity


def signal_receive(*, source: SignalSource, data: dict[str, Any]) -> Signal:
    """Store, deduplicate, route and execute one signal. Returns the stored signal (with its outcome).

    Raises ValidationError for a malformed signal (nothing stored)."""
    from trading.order_entry import order_request_check, order_submit

    if not source.enabled:
        raise PermissionError(f"signal source {source} is disabled")
    clean = signal_check(source=source, data=data)
    now = timezone.now()
    with transaction.atomic():
        # One signal at a time per source: the duplicate check below must see the previous one.
        SignalSource.objects.select_for_update(of=("self",)).get(pk=source.pk)
        dedup = _dedup_hash(source, clean)
        signal = Signal.objects.create(
            source=source,
            external_id=clean["external_id"],
            instrument=clean["instrument"],
            side=clean["side"],
            quantity=clean["quantity"],
            target_position=clean["target_position"],
            strength=clean["strength"],
            strategy_id=clean["strategy_id"],
            ttl_seconds=clean["ttl_seconds"],
            signal_time=clean["signal_time"],
            dedup_hash=dedup,
            payload=json.loads(json.dumps(data, default=str)),
        )
        max_age = clean["ttl_seconds"] or source.max_age_seconds
        age = (now - clean["signal_time"]).total_seconds()
        duplicate = (
            Signal.objects.filter(
                source=source,
                dedup_hash=dedup,
                received_at__gte=now - timezone.timedelta(seconds=source.dedup_window_seconds),
            )
            .exclude(pk=signal.pk)
            .order_by("received_at")
            .first()
        )
        if age > max_age:
            _finish(signal, Signal.Status.SUPPRESSED, f"stale: {age:.0f}s old, limit {max_age}s")
        elif duplicate is not None:
            _finish(
                signal,
                Signal.Status.SUPPRESSED,
                f"duplicate of signal {duplicate.pk} within {source.dedup_window_seconds}s",
            )
        else:
            route, decision = route_choose(source, clean)
            signal.routing = decision
            if route is None:
                _finish(
                    signal, Signal.Status.PARKED, "no available route" if decision["considered"] else "no route matches"
                )
                _park_alert(signal)
            else:
                signal.route = route
                sized = _size(route, signal)
                if sized is None:
                    _finish(signal, Signal.Status.SUPPRESSED, "already at the target position")
                else:
                    side, quantity = sized
                    order_data = {
                        "account": route.account.pk,
                        "instrument": signal.instrument.pk,
                        "side": side,
                        "order_type": "MARKET",
                        "quantity": quantity,
                        "time_in_force": "IOC",
                        "strategy": signal.strategy_id,
                        "idempotency_key": f"signal-{signal.pk}",
                    }
                    try:
                        request = order_request_check(data=order_data, user=source.owner, source=OrderSource.SIGNAL)
                    except ValidationError as exc:
                        _finish(
                            signal,
                            Signal.Status.REJECTED,
                            "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()),
                        )
                    else:
                        order, _ = order_submit(request=request, user=source.owner)
                        signal.order = order
                        status = Signal.Status.EXECUTED if order.status != "REJECTED" else Signal.Status.REJECTED
                        _finish(
                            signal,
                            status,
                            order.status_reason
                            if status == Signal.Status.REJECTED
                            else f"order {order.client_order_id}",
                        )
    return signal


def _finish(signal: Signal, status: str, reason: str) -> None:
    signal.status = status
    signal.reason = reason
    signal.save()
    publish_on_commit(
        "signals",
        status,
        {
            "id": signal.pk,
            "status": status,
            "reason": reason,
            "instrument": signal.instrument.instrument_id,
            "source": signal.source.name,
        },
    )


def _park_alert(signal: Signal) -> None:
    key = f"signal-parked:{signal.source_id}:{signal.instrument_id}"
    if Alert.objects.filter(dedup_key=key).exclude(status=Alert.Status.RESOLVED).exists():
        return
    Alert.objects.create(
        severity=Alert.Severity.WARNING,
        category=Alert.Category.SERVICE,
        title=f"Signal parked: no route for {signal.instrument} from {signal.source}",
        message=json.dumps(signal.routing.get("considered", []))[:2000],
        source="signal-router",
        dedup_key=key,
        details={"signal": signal.pk},
    )
