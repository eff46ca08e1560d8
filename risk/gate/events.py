"""The gate channel: how every gate in every process learns that its snapshot changed.

Redis pub/sub channel ``ni:risk:gate``; each message is one JSON object with a
``type``:

* ``{"type": "kill_switch", "scope": "global"|"account"|"strategy"|"instrument"|"sector",
  "target": <id or instrument id or null>, "engaged": bool, "mode": "halt"|"reduce_only",
  "reason": str, "automatic": bool, "at": <epoch s>}`` — also what the node listens
  for to set Nautilus ``TradingState`` (docs/risk-gate.md);
* ``{"type": "limits"}`` — a risk limit changed; gates reload limits;
* ``{"type": "position", "account": id, "instrument": "EUR/USD.SIM", "strategy": id|null,
  "quantity": "...", "avg_price": "...", "realized_pnl": "..."}`` — the full new row;
* ``{"type": "balance", "account": id, "currency": "USD", "total": "...", "locked": "..."}``;
* ``{"type": "correlations"}`` — the monitor stored a new correlation matrix;
* ``{"type": "refresh"}`` — reload everything.

Publishing happens after commit, so no gate sees a change that may roll back.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

GATE_CHANNEL = "ni:risk:gate"


def gate_publish(message: dict[str, Any]) -> bool:
    """Publish now; False (and a log line) when Redis is unreachable — the periodic
    refresh and the snapshot staleness bound cover a lost message."""
    from monitoring.redis_client import redis_client

    try:
        redis_client().publish(GATE_CHANNEL, json.dumps(message, default=str))
        return True
    except Exception:
        logger.warning("gate publish failed: %s", message.get("type"), exc_info=True)
        return False


def gate_publish_on_commit(message: dict[str, Any]) -> None:
    transaction.on_commit(lambda: gate_publish(message))


def on_limit_saved(sender, instance, **kwargs) -> None:
    gate_publish_on_commit({"type": "limits", "at": time.time()})


def on_position_saved(sender, instance, **kwargs) -> None:
    gate_publish_on_commit(
        {
            "type": "position",
            "account": instance.account_id,
            "instrument_pk": instance.instrument_id,
            "strategy": instance.strategy_id,
            "quantity": str(instance.quantity),
            "avg_price": str(instance.avg_price),
            "realized_pnl": str(instance.realized_pnl),
        }
    )


def on_balance_saved(sender, instance, **kwargs) -> None:
    gate_publish_on_commit(
        {
            "type": "balance",
            "account": instance.account_id,
            "currency": instance.currency,
            "total": str(instance.total),
            "locked": str(instance.locked),
        }
    )
