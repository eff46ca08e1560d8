"""Risk alerts raised by the pre-trade gate's rejections.

An order refused because it would break a configured limit (a failed check
that names a ``RiskLimit``) is a risk incident the Risk page must show, not only
a line in the order's timeline. One open alert per limit: further rejections by
the same limit while it is open add to its count instead of raising new ones.
Refusals that are not limit breaches (kill switch, no price, buying power,
lot/tick size) do not alert: the kill switch is its own incident and the rest
are the order's problem, not the desk's.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from monitoring.broadcast import publish_on_commit
from monitoring.models import Alert

logger = logging.getLogger(__name__)

GATE_ALERT_PREFIX = "risk:gate-reject:"
SOURCE = "risk.gate"


def _number(value: Any) -> Any:
    # Ledger values carry the gate's full precision (5000.0000000000); people read 5000.
    try:
        return format(Decimal(str(value)).normalize(), "f")
    except (InvalidOperation, ValueError):
        return value


def _breached_limits(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[int, dict[str, Any]] = {}
    for check in checks:
        if not check.get("passed") and check.get("limit_id"):
            seen.setdefault(int(check["limit_id"]), check)
    return list(seen.values())


def gate_rejection_alert(*, order, checks: list[dict[str, Any]]) -> list[Alert]:
    """Raise (or count into) one risk alert per limit the rejected ``order`` broke.

    Called inside the order's transaction; each write is in its own savepoint so a
    lost race on the one-open-alert-per-key constraint never undoes the order's
    verdict. Returns the alerts raised now (not the ones counted into)."""
    raised: list[Alert] = []
    for check in _breached_limits(checks):
        key = f"{GATE_ALERT_PREFIX}{check['limit_id']}"
        where = f"{order.account.name} {order.instrument.instrument_id}"
        try:
            with transaction.atomic():
                current = (
                    Alert.objects.select_for_update(of=("self",))
                    .filter(dedup_key=key)
                    .exclude(status=Alert.Status.RESOLVED)
                    .first()
                )
                if current is not None:
                    details = dict(current.details)
                    details["rejections"] = int(details.get("rejections", 1)) + 1
                    details["last_order"] = order.client_order_id
                    details["last_at"] = timezone.now().isoformat()
                    current.details = details
                    current.save(update_fields=["details"])
                    continue
                alert = Alert.objects.create(
                    severity=Alert.Severity.WARNING,
                    category=Alert.Category.RISK,
                    title=f"Order rejected by limit: {check.get('check')} (limit #{check['limit_id']})",
                    message=(
                        f"{order.client_order_id} ({order.side} {order.quantity.normalize():f} {where}): "
                        f"{check.get('reason_code')} — {check.get('message') or ''} "
                        f"measured {_number(check.get('measured'))} vs limit {_number(check.get('limit'))}"
                    ).strip(),
                    source=SOURCE,
                    dedup_key=key,
                    details={
                        "limit_id": check["limit_id"],
                        "limit_version": check.get("limit_version"),
                        "kind": check.get("check"),
                        "reason_code": check.get("reason_code"),
                        "measured": check.get("measured"),
                        "limit": check.get("limit"),
                        "order": order.client_order_id,
                        "rejections": 1,
                    },
                )
        except IntegrityError:
            # Another process raised the same incident an instant ago: it is counted there.
            continue
        publish_on_commit(
            "alerts",
            "alert",
            {
                "id": alert.pk,
                "severity": alert.severity,
                "title": alert.title,
                "message": alert.message,
                "dedup_key": alert.dedup_key,
                "details": alert.details,
            },
        )
        raised.append(alert)
    return raised
