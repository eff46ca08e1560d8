"""The durable outbox of trades and positions for F8.

Enqueueing reads the book (fills and positions) and writes ``F8OutboxItem``
rows; pushing sends pending rows in id order and marks what F8 acknowledged.
Each item has an idempotency key that F8 deduplicates on, so delivery is
at-least-once on the wire and exactly-once in effect: a push whose answer was
lost (timeout after F8 applied it) is sent again and answered ``duplicate``.
"""

from __future__ import annotations

import hashlib
import logging
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef
from django.utils import timezone

from monitoring.models import Alert
from portfolio.f8.alerts import f8_alert_raise
from portfolio.f8.client import F8CircuitOpen, F8Client, F8Error
from portfolio.f8.contract import F8ProtocolError, parse_push_response
from portfolio.models import F8OutboxItem, Position
from trading.models import Fill

logger = logging.getLogger(__name__)

Kind = F8OutboxItem.Kind
State = F8OutboxItem.State
TRADE_ENQUEUE_BATCH = 5000
# Fills whose transactions commit out of id order still land behind the watermark;
# looking this many ids back (with an anti-join) catches them.
TRADE_LOOKBACK_IDS = 10_000
PUSH_BATCH = 200


def wire_decimal(value: Decimal) -> str:
    """Plain notation without padding zeros: 10000, 1.08501, -0.5 (never 1E+4)."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def trade_payload(fill: Fill) -> dict:
    order = fill.order
    return {
        "idempotency_key": f"trade:{order.client_order_id}:{fill.trade_id}",
        "account": order.account.name,
        "instrument_id": order.instrument.instrument_id,
        "strategy": order.strategy.name if order.strategy_id else None,
        "client_order_id": order.client_order_id,
        "venue_order_id": order.venue_order_id,
        "trade_id": fill.trade_id,
        "side": order.side,
        "quantity": wire_decimal(fill.quantity),
        "price": wire_decimal(fill.price),
        "commission": wire_decimal(fill.commission),
        "commission_currency": fill.commission_currency or order.instrument.quote_currency,
        "liquidity_side": fill.liquidity_side,
        "ts_event": fill.ts_event.isoformat(),
    }


def outbox_enqueue_trades(*, limit: int = TRADE_ENQUEUE_BATCH) -> int:
    """Enqueue fills not yet in the outbox, oldest first, at most ``limit`` per call."""
    watermark = F8OutboxItem.objects.filter(kind=Kind.TRADE).aggregate(m=Max("source_id"))["m"] or 0
    fills = (
        Fill.objects.filter(id__gt=max(0, watermark - TRADE_LOOKBACK_IDS))
        .filter(~Exists(F8OutboxItem.objects.filter(kind=Kind.TRADE, source_id=OuterRef("pk"))))
        .select_related("order", "order__account", "order__instrument", "order__strategy")
        .order_by("id")[:limit]
    )
    items = []
    for fill in fills:
        payload = trade_payload(fill)
        items.append(
            F8OutboxItem(
                kind=Kind.TRADE,
                subject=f"{fill.order.client_order_id}:{fill.trade_id}",
                idempotency_key=payload["idempotency_key"],
                payload=payload,
                source_id=fill.pk,
            )
        )
    # ignore_conflicts: a concurrent enqueue of the same fill is the same item.
    created = F8OutboxItem.objects.bulk_create(items, ignore_conflicts=True)
    return len(created)


def _position_subject(account_id: int, instrument_id: int, strategy_id: int | None) -> str:
    return f"{account_id}:{instrument_id}:{strategy_id if strategy_id is not None else '-'}"


def _position_fingerprint(row: dict) -> str:
    material = "|".join(wire_decimal(row[k]) for k in ("quantity", "avg_price", "realized_pnl", "commissions"))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def outbox_enqueue_positions() -> int:
    """Enqueue every position whose booked state (quantity, average price, realised P&L,
    commissions) differs from the last state enqueued for it. Marks alone are not pushed:
    F8 values positions with its own prices."""
    rows = list(
        Position.objects.values(
            "id",
            "account_id",
            "account__name",
            "instrument_id",
            "instrument__instrument_id",
            "instrument__quote_currency",
            "strategy_id",
            "strategy__name",
            "quantity",
            "avg_price",
            "realized_pnl",
            "commissions",
            "updated_at",
        )
    )
    if not rows:
        return 0
    last = dict(
        F8OutboxItem.objects.filter(kind=Kind.POSITION)
        .order_by("subject", "-id")
        .distinct("subject")
        .values_list("subject", "fingerprint")
    )
    created = 0
    for row in rows:
        subject = _position_subject(row["account_id"], row["instrument_id"], row["strategy_id"])
        fingerprint = _position_fingerprint(row)
        if last.get(subject) == fingerprint:
            continue
        payload = {
            "idempotency_key": f"position:{subject}:{fingerprint[:16]}:{int(row['updated_at'].timestamp() * 1e6)}",
            "account": row["account__name"],
            "instrument_id": row["instrument__instrument_id"],
            "strategy": row["strategy__name"],
            "quantity": wire_decimal(row["quantity"]),
            "avg_price": wire_decimal(row["avg_price"]),
            "realized_pnl": wire_decimal(row["realized_pnl"]),
            "commissions": wire_decimal(row["commissions"]),
            "currency": row["instrument__quote_currency"],
            "updated_at": row["updated_at"].isoformat(),
        }
        try:
            with transaction.atomic():
                # Only the newest state of a position is worth sending.
                F8OutboxItem.objects.filter(kind=Kind.POSITION, subject=subject, state=State.PENDING).update(
                    state=State.SUPERSEDED
                )
                F8OutboxItem.objects.create(
                    kind=Kind.POSITION,
                    subject=subject,
                    idempotency_key=payload["idempotency_key"],
                    payload=payload,
                    fingerprint=fingerprint,
                )
            created += 1
        except IntegrityError:
            logger.info("F8 outbox: position %s already enqueued by another process", subject)
    return created


def outbox_backlog() -> dict[str, int]:
    counts = {k: 0 for k in Kind.values}
    for kind, n in _pending_counts():
        counts[kind] = n
    return counts


def _pending_counts():
    from django.db.models import Count

    return F8OutboxItem.objects.filter(state=State.PENDING).values_list("kind").annotate(n=Count("id"))


def outbox_push(client: F8Client, *, kind: str, batch_size: int = PUSH_BATCH, max_batches: int = 50) -> dict:
    """Send pending items of one kind in id order until none is left (or ``max_batches``).

    Raises the client's ``F8Error`` (or ``F8ProtocolError``) on the first batch that
    fails; the items of that batch stay pending with the attempt counted."""
    report = {"sent": 0, "duplicates": 0, "rejected": 0, "batches": 0}
    for _ in range(max_batches):
        items = list(F8OutboxItem.objects.filter(kind=kind, state=State.PENDING).order_by("id")[:batch_size])
        if not items:
            break
        keys = [item.idempotency_key for item in items]
        try:
            data = client.push(kind, [item.payload for item in items])
            results = parse_push_response(f"POST {kind}s", data, keys)
        except F8CircuitOpen:
            raise  # nothing was sent: not an attempt
        except (F8Error, F8ProtocolError) as exc:
            F8OutboxItem.objects.filter(pk__in=[i.pk for i in items]).update(
                attempts=F("attempts") + 1, last_error=str(exc)[:2000]
            )
            raise
        now = timezone.now()
        by_status: dict[str, list[int]] = {"accepted": [], "duplicate": [], "rejected": []}
        for item in items:
            by_status[results[item.idempotency_key].status].append(item.pk)
        with transaction.atomic():
            for status in ("accepted", "duplicate"):
                if by_status[status]:
                    F8OutboxItem.objects.filter(pk__in=by_status[status]).update(
                        state=State.SENT, sent_at=now, f8_result=status, attempts=F("attempts") + 1, last_error=""
                    )
            for item in items:
                result = results[item.idempotency_key]
                if result.status != "rejected":
                    continue
                F8OutboxItem.objects.filter(pk=item.pk).update(
                    state=State.REJECTED,
                    attempts=F("attempts") + 1,
                    last_error=result.error[:2000],
                    f8_result="rejected",
                )
                f8_alert_raise(
                    key=f"f8:rejected:{item.idempotency_key}"[:200],
                    severity=Alert.Severity.WARNING,
                    category=Alert.Category.SERVICE,
                    title=f"F8 rejected {kind} {item.subject}",
                    message=result.error or "no reason given",
                    details={"idempotency_key": item.idempotency_key, "payload": item.payload},
                )
        report["sent"] += len(by_status["accepted"])
        report["duplicates"] += len(by_status["duplicate"])
        report["rejected"] += len(by_status["rejected"])
        report["batches"] += 1
    return report
