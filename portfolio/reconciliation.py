"""F8 sync with the engine: compare the book of record with the Nautilus node's positions.

The node publishes its net position per instrument every second
(``ni:node:<trader_id>:positions``, see ``trading.node.desk_orders``). A
difference is recorded as a ``Discrepancy`` on first sight but acted on only
once it has been seen on ``CONFIRM_SIGHTINGS`` consecutive runs while the event
bridge has nothing in flight — otherwise a fill still travelling through the
bridge would be "corrected" and then applied a second time. Then each account's
policy decides: ``engine_wins`` corrects the book automatically, ``hold`` waits
for a person (``discrepancy_resolve``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from monitoring.audit import audit_record
from monitoring.broadcast import publish_on_commit
from monitoring.models import Alert
from monitoring.redis_client import redis_client
from portfolio.models import Discrepancy, Position
from portfolio.status import SYNC_KEY
from trading.models import Account, Instrument

logger = logging.getLogger(__name__)
CONFIRM_SIGHTINGS = 2
ZERO = Decimal("0")


@dataclass(frozen=True)
class EngineView:
    at: float  # epoch seconds the node took it
    positions: dict[str, Decimal]  # instrument id -> signed net quantity

    @property
    def age(self) -> float:
        return max(0.0, time.time() - self.at)


def engine_view_read(trader_id: str | None = None) -> EngineView | None:
    from trading.node.status import configured_trader_id

    raw = redis_client().get(f"ni:node:{trader_id or configured_trader_id()}:positions")
    if not raw:
        return None
    data = json.loads(raw)
    return EngineView(
        at=float(data["ts"]),
        positions={k: Decimal(v["quantity"]) for k, v in data.get("positions", {}).items()},
    )


def bridge_in_flight(trader_id: str | None = None) -> int:
    """Node events not yet applied to the book (undelivered + unacknowledged)."""
    from trading.bridge import GROUP
    from trading.commands import events_stream

    client = redis_client()
    stream = events_stream(trader_id)
    try:
        groups = {g["name"].decode(): g for g in client.xinfo_groups(stream)}
    except Exception:
        return 0  # no stream yet: nothing in flight
    group = groups.get(GROUP)
    if group is None:
        return client.xlen(stream)
    lag = group.get("lag") or 0
    return int(group.get("pending", 0)) + int(lag)


def _book_quantities(account: Account) -> dict[str, Decimal]:
    rows = Position.objects.filter(account=account).values("instrument__instrument_id").annotate(total=Sum("quantity"))
    return {r["instrument__instrument_id"]: r["total"] for r in rows}


def reconcile(*, account: Account, engine: EngineView, in_flight: int = 0) -> dict:
    """Compare one account's book with the engine view; record, resolve and act on discrepancies."""
    book = _book_quantities(account)
    instruments = {
        i.instrument_id: i for i in Instrument.objects.filter(instrument_id__in=set(book) | set(engine.positions))
    }
    result = {"checked": 0, "open": 0, "new": 0, "corrected": 0, "converged": 0}
    with transaction.atomic():
        open_rows = {
            d.instrument.instrument_id: d
            for d in Discrepancy.objects.select_for_update(of=("self",))
            .select_related("instrument")
            .filter(account=account, source=Discrepancy.Source.ENGINE, resolution="")
        }
        for instrument_id in sorted(instruments):
            result["checked"] += 1
            ours = book.get(instrument_id, ZERO)
            theirs = engine.positions.get(instrument_id, ZERO)
            existing = open_rows.get(instrument_id)
            if ours == theirs:
                if existing is not None:
                    existing.resolution = Discrepancy.Resolution.CONVERGED
                    existing.resolved_at = timezone.now()
                    existing.save(update_fields=["resolution", "resolved_at", "last_seen"])
                    result["converged"] += 1
                continue
            if existing is None:
                existing = Discrepancy.objects.create(
                    account=account, instrument=instruments[instrument_id], book_quantity=ours, engine_quantity=theirs
                )
                result["new"] += 1
            else:
                existing.book_quantity, existing.engine_quantity = ours, theirs
                existing.sightings += 1
                existing.save(update_fields=["book_quantity", "engine_quantity", "sightings", "last_seen"])
            confirmed = existing.sightings >= CONFIRM_SIGHTINGS and in_flight == 0
            if confirmed and account.reconciliation_policy == Account.ReconciliationPolicy.ENGINE_WINS:
                _book_correct(existing, user=None, resolution=Discrepancy.Resolution.ENGINE_WINS)
                result["corrected"] += 1
            else:
                result["open"] += 1
                if confirmed:
                    _alert_divergence(existing)
    return result


def _book_correct(discrepancy: Discrepancy, *, user, resolution: str) -> None:
    """Set the book to the engine's quantity for the discrepancy's instrument.

    Precondition: inside a transaction. The difference is booked on the
    position without a strategy (the engine does not know our strategy split)."""
    delta = discrepancy.engine_quantity - discrepancy.book_quantity
    position, _ = Position.objects.select_for_update(of=("self",)).get_or_create(
        account=discrepancy.account, instrument=discrepancy.instrument, strategy=None
    )
    before = position.quantity
    position.quantity = before + delta
    if position.quantity == ZERO:
        position.avg_price = ZERO
    position.save(update_fields=["quantity", "avg_price", "updated_at"])
    discrepancy.resolution = resolution
    discrepancy.resolved_at = timezone.now()
    discrepancy.resolved_by = user if getattr(user, "is_authenticated", False) else None
    discrepancy.save(update_fields=["resolution", "resolved_at", "resolved_by", "last_seen"])
    audit_record(
        actor=user,
        action="reconciliation.correct_book",
        obj=position,
        changes={"quantity": [str(before), str(position.quantity)]},
        message=(
            f"{discrepancy.get_resolution_display()}: "
            f"engine {discrepancy.engine_quantity}, book {discrepancy.book_quantity}"
        ),
        via="system" if user is None else None,
    )
    from portfolio.services import position_payload

    publish_on_commit("portfolio", "position", position_payload(position))


def _alert_divergence(discrepancy: Discrepancy) -> None:
    key = f"reconciliation:{discrepancy.account_id}:{discrepancy.instrument_id}"
    if Alert.objects.filter(dedup_key=key).exclude(status=Alert.Status.RESOLVED).exists():
        return
    Alert.objects.create(
        severity=Alert.Severity.WARNING,
        category=Alert.Category.COMPLIANCE,
        title=f"Book and engine disagree on {discrepancy.instrument}",
        message=f"Book {discrepancy.book_quantity} vs engine {discrepancy.engine_quantity} on {discrepancy.account}; "
        "held for a person (policy: hold).",
        source="reconciliation",
        dedup_key=key,
        details={"discrepancy": discrepancy.pk},
    )


def discrepancy_resolve(*, discrepancy_id: int, user, action: str) -> Discrepancy:
    """A person resolves an open discrepancy: ``accept_engine`` corrects the book, ``keep_book`` leaves it."""
    from monitoring.roles import Role, has_role

    if not has_role(user, Role.RISK_MANAGER):
        raise PermissionError("Only a Risk Manager or Admin can resolve discrepancies.")
    with transaction.atomic():
        discrepancy = (
            Discrepancy.objects.select_for_update(of=("self",))
            .select_related("account", "instrument")
            .get(pk=discrepancy_id)
        )
        if not discrepancy.is_open:
            raise ValueError(
                f"Discrepancy {discrepancy_id} is already resolved ({discrepancy.get_resolution_display()})."
            )
        if action == "accept_engine":
            _book_correct(discrepancy, user=user, resolution=Discrepancy.Resolution.ACCEPT_ENGINE)
        elif action == "keep_book":
            discrepancy.resolution = Discrepancy.Resolution.KEEP_BOOK
            discrepancy.resolved_at = timezone.now()
            discrepancy.resolved_by = user
            discrepancy.save(update_fields=["resolution", "resolved_at", "resolved_by", "last_seen"])
            audit_record(
                actor=user,
                action="reconciliation.keep_book",
                obj=discrepancy,
                changes={"resolution": ["", "keep_book"]},
            )
        else:
            raise ValueError(f"Unknown resolution {action!r}: expected accept_engine or keep_book.")
        Alert.objects.filter(dedup_key=f"reconciliation:{discrepancy.account_id}:{discrepancy.instrument_id}").exclude(
            status=Alert.Status.RESOLVED
        ).update(status=Alert.Status.RESOLVED, resolved_at=timezone.now())
    return discrepancy


def reconcile_all(*, trader_id: str | None = None) -> dict:
    """The periodic F8 sync against the node. Writes the sync status the header shows."""
    engine = engine_view_read(trader_id)
    client = redis_client()
    now = time.time()
    from django.conf import settings

    if engine is None or engine.age > max(5.0, 3 * settings.POSITION_SYNC_INTERVAL):
        detail = "The engine has not published positions" if engine is None else f"Engine view is {engine.age:.0f}s old"
        client.hset(SYNC_KEY, mapping={"heartbeat": now, "state": "lagging", "discrepancies": 0, "detail": detail})
        return {"state": "lagging", "detail": detail}
    in_flight = bridge_in_flight(trader_id)
    totals = {"checked": 0, "open": 0, "new": 0, "corrected": 0, "converged": 0}
    # Only accounts a running node trades: the engine knows nothing of the others.
    for account in Account.objects.filter(venue__adapter="simulated", status=Account.Status.CONNECTED):
        for key, value in reconcile(account=account, engine=engine, in_flight=in_flight).items():
            totals[key] += value
    state = "diverged" if totals["open"] else "synchronized"
    detail = (
        f"{totals['open']} discrepancies between book and engine"
        if totals["open"]
        else f"Book matches the engine on {totals['checked']} instruments"
    )
    client.hset(SYNC_KEY, mapping={"heartbeat": now, "state": state, "discrepancies": totals["open"], "detail": detail})
    from monitoring.broadcast import publish

    publish("portfolio", "sync", {"state": state, "detail": detail, **totals})
    return {"state": state, "detail": detail, **totals}
