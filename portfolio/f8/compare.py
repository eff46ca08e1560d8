"""What we do with what F8 holds: positions become discrepancies, limits are compared.

Neither ever overwrites the book or our limits. A position that differs is a
``Discrepancy(source="f8")`` for a person to resolve (F8 is not an execution
venue, so there is no "F8 wins automatically" policy); a pulled limit stricter
than ours, or one we do not have, raises a risk alert.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from monitoring.models import Alert
from portfolio.f8.alerts import f8_alert_clear, f8_alert_raise
from portfolio.f8.contract import F8LimitRow, F8PositionsView
from portfolio.models import Discrepancy, F8Limit, Position
from risk.models import RiskLimit
from trading.models import Account, Instrument

ZERO = Decimal("0")
CONFIRM_SIGHTINGS = 2
# Limits where a larger number is the stricter one; for every other kind smaller is stricter.
MINIMUM_KINDS = {RiskLimit.Kind.MIN_FREE_BALANCE}
COMPARABLE_KINDS = [k for k in RiskLimit.Kind.values if k != RiskLimit.Kind.INSTRUMENT_LIST]


def f8_positions_compare(view: F8PositionsView) -> dict:
    """Record differences between the book (net per account and instrument) and F8's positions."""
    accounts = dict(Account.objects.values_list("name", "id"))
    wanted_instruments = {p.instrument_id for p in view.positions}
    instruments = dict(
        Instrument.objects.filter(instrument_id__in=wanted_instruments).values_list("instrument_id", "id")
    )
    theirs: dict[tuple[int, int], Decimal] = {}
    unknown: list[str] = []
    for p in view.positions:
        account_id, instrument_pk = accounts.get(p.account), instruments.get(p.instrument_id)
        if account_id is None or instrument_pk is None:
            unknown.append(f"{p.account} {p.instrument_id}")
            continue
        theirs[(account_id, instrument_pk)] = p.quantity
    ours = {
        (r["account_id"], r["instrument_id"]): r["total"]
        for r in Position.objects.values("account_id", "instrument_id").annotate(total=Sum("quantity"))
    }
    result = {"checked": 0, "open": 0, "new": 0, "converged": 0, "unknown": len(unknown)}
    confirmed_keys: set[str] = set()
    with transaction.atomic():
        open_rows = {
            (d.account_id, d.instrument_id): d
            for d in Discrepancy.objects.select_for_update(of=("self",)).filter(
                source=Discrepancy.Source.F8, resolution=""
            )
        }
        for key in sorted(set(ours) | set(theirs) | set(open_rows)):
            book, f8 = ours.get(key, ZERO), theirs.get(key, ZERO)
            existing = open_rows.get(key)
            result["checked"] += 1
            if book == f8:
                if existing is not None:
                    existing.resolution = Discrepancy.Resolution.CONVERGED
                    existing.resolved_at = timezone.now()
                    existing.save(update_fields=["resolution", "resolved_at", "last_seen"])
                    result["converged"] += 1
                continue
            if existing is None:
                existing = Discrepancy.objects.create(
                    source=Discrepancy.Source.F8,
                    account_id=key[0],
                    instrument_id=key[1],
                    book_quantity=book,
                    engine_quantity=f8,
                )
                result["new"] += 1
            else:
                existing.book_quantity, existing.engine_quantity = book, f8
                existing.sightings += 1
                existing.save(update_fields=["book_quantity", "engine_quantity", "sightings", "last_seen"])
            result["open"] += 1
            if existing.sightings >= CONFIRM_SIGHTINGS:
                alert_key = f"f8:position:{key[0]}:{key[1]}"
                confirmed_keys.add(alert_key)
                f8_alert_raise(
                    key=alert_key,
                    severity=Alert.Severity.WARNING,
                    category=Alert.Category.COMPLIANCE,
                    title=f"Book and F8 disagree on {existing.instrument}",
                    message=f"Book {book} vs F8 {f8} on {existing.account}; held for a person.",
                    details={"discrepancy": existing.pk},
                )
        f8_alert_clear(prefix="f8:position:", keep=confirmed_keys)
        if unknown:
            f8_alert_raise(
                key="f8:unknown-positions",
                severity=Alert.Severity.WARNING,
                category=Alert.Category.DATA,
                title=f"F8 holds positions in {len(unknown)} account/instrument(s) we do not know",
                message=", ".join(unknown[:20]),
                details={"unknown": unknown[:200]},
            )
        else:
            f8_alert_clear(key="f8:unknown-positions")
    return result


def _local_target(limit: RiskLimit) -> str:
    if limit.scope == "account":
        return limit.account.name
    if limit.scope == "strategy":
        return limit.strategy.name
    if limit.scope == "instrument":
        return limit.instrument.instrument_id
    if limit.scope == "sector":
        return limit.sector.code
    return ""


def _target_exists(scope: str, target: str, known: dict[str, set[str]]) -> bool:
    return scope == "global" or target in known.get(scope, set())


def f8_limits_compare(rows: list[F8LimitRow]) -> dict:
    """Record F8's limits and how each compares with our strictest enabled limit of the same
    scope, target and kind. Our limits are never changed here."""
    from strategies.models import Strategy
    from trading.models import Sector

    local: dict[tuple[str, str, str], list[RiskLimit]] = {}
    for limit in RiskLimit.objects.filter(enabled=True).select_related("account", "strategy", "instrument", "sector"):
        local.setdefault((limit.scope, _local_target(limit), limit.kind), []).append(limit)
    known = {
        "account": set(Account.objects.values_list("name", flat=True)),
        "strategy": set(Strategy.objects.values_list("name", flat=True)),
        "instrument": set(Instrument.objects.values_list("instrument_id", flat=True)),
        "sector": set(Sector.objects.values_list("code", flat=True)),
    }
    now = timezone.now()
    counts = {c: 0 for c in F8Limit.Comparison.values}
    alert_keys: set[str] = set()
    with transaction.atomic():
        F8Limit.objects.exclude(f8_id__in=[r.f8_id for r in rows]).delete()
        for row in rows:
            matches = [
                lim
                for lim in local.get((row.scope, row.target, row.kind), [])
                if not row.currency or not lim.currency or lim.currency == row.currency
            ]
            minimum = row.kind in MINIMUM_KINDS
            best = None
            if matches:
                best = (max if minimum else min)(matches, key=lambda lim: lim.value)
            if not _target_exists(row.scope, row.target, known):
                comparison = F8Limit.Comparison.UNKNOWN_TARGET
            elif best is None:
                comparison = F8Limit.Comparison.MISSING_LOCALLY
            elif row.value == best.value:
                comparison = F8Limit.Comparison.MATCHES
            elif (row.value > best.value) == minimum:
                comparison = F8Limit.Comparison.STRICTER
            else:
                comparison = F8Limit.Comparison.LOOSER
            F8Limit.objects.update_or_create(
                f8_id=row.f8_id,
                defaults={
                    "scope": row.scope,
                    "target": row.target,
                    "kind": row.kind,
                    "value": row.value,
                    "currency": row.currency,
                    "comparison": comparison,
                    "local_limit": best,
                    "local_value": best.value if best else None,
                    "pulled_at": now,
                },
            )
            counts[comparison] += 1
            if comparison in (
                F8Limit.Comparison.STRICTER,
                F8Limit.Comparison.MISSING_LOCALLY,
                F8Limit.Comparison.UNKNOWN_TARGET,
            ):
                key = f"f8:limit:{row.f8_id}"[:200]
                alert_keys.add(key)
                where = f"{row.scope}{' ' + row.target if row.target else ''}"
                ours = f"ours is {best.value}" if best else "we have none"
                f8_alert_raise(
                    key=key,
                    severity=Alert.Severity.WARNING,
                    category=Alert.Category.RISK
                    if comparison != F8Limit.Comparison.UNKNOWN_TARGET
                    else Alert.Category.DATA,
                    title=(
                        f"F8 {row.kind} limit on {where} is stricter than ours"
                        if comparison != F8Limit.Comparison.UNKNOWN_TARGET
                        else f"F8 has a {row.kind} limit on unknown {where}"
                    ),
                    message=f"F8 {row.value}{' ' + row.currency if row.currency else ''}; {ours}. "
                    "Our limits were not changed: a Risk Manager decides.",
                    details={
                        "f8_id": row.f8_id,
                        "comparison": comparison,
                        "f8_value": str(row.value),
                        "local_value": str(best.value) if best else None,
                    },
                )
        f8_alert_clear(prefix="f8:limit:", keep=alert_keys)
    return counts
