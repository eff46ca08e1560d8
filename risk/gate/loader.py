"""Builds the gate snapshot from the record (PostgreSQL) and hot state (Redis).

Runs off the hot path: at start-up, on a change announced on the gate channel
that needs the database (limits, correlations), and periodically.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Max

from monitoring.redis_client import redis_client
from risk.gate.snapshot import GateSnapshot, snapshot_build

CORRELATIONS_KEY = "ni:risk:correlations"


def session_start(now: datetime | None = None) -> datetime:
    """The trading session starts at 00:00 UTC."""
    now = now or datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _scope_target(row: dict[str, Any]) -> Any:
    scope = row["scope"]
    if scope == "account":
        return row["account_id"]
    if scope == "strategy":
        return row["strategy_id"]
    if scope == "instrument":
        return row["instrument__instrument_id"]
    if scope == "sector":
        return row["sector_id"]
    return None


def account_equity_marks(account_ids: list[int]) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """(equity at the session start, peak equity) per account, from the equity history."""
    from portfolio.models import PortfolioSnapshot
    from risk.models import RiskMetricSnapshot

    start = session_start()
    opening: dict[int, tuple[datetime, Decimal]] = {}
    peaks: dict[int, Decimal] = {}
    for model, value_field in ((PortfolioSnapshot, "total_value"), (RiskMetricSnapshot, "portfolio_value")):
        rows = (
            model.objects.filter(account_id__in=account_ids, at__lt=start)
            .order_by("account_id", "-at")
            .distinct("account_id")
            .values_list("account_id", "at", value_field)
        )
        for acc, at, value in rows:
            if acc not in opening or at > opening[acc][0]:
                opening[acc] = (at, value)
        for acc, peak in (
            model.objects.filter(account_id__in=account_ids)
            .values("account_id")
            .annotate(peak=Max(value_field))
            .values_list("account_id", "peak")
        ):
            if peak is not None and peak > peaks.get(acc, Decimal(0)):
                peaks[acc] = peak
    return {acc: v for acc, (_at, v) in opening.items()}, peaks


def quotes_load() -> dict[str, tuple]:
    raw = redis_client().hgetall("ni:quotes")
    out = {}
    for k, v in raw.items():
        d = json.loads(v)
        out[k.decode()] = (
            Decimal(d["bid"]) if d.get("bid") else None,
            Decimal(d["ask"]) if d.get("ask") else None,
            Decimal(d["last"]) if d.get("last") else None,
            int(d["ts"]),
        )
    return out


def snapshot_data_load() -> dict[str, Any]:
    from portfolio.models import CashBalance, Position
    from risk.models import KillSwitch, RiskLimit
    from trading.models import Account, Instrument

    limits = [
        {
            "id": r["id"],
            "version": r["version"],
            "kind": r["kind"],
            "value": r["value"],
            "currency": r["currency"],
            "window_seconds": r["window_seconds"],
            "params": r["params"] or {},
            "scope": r["scope"],
            "target": _scope_target(r),
        }
        for r in RiskLimit.objects.filter(enabled=True).values(
            "id",
            "version",
            "kind",
            "value",
            "currency",
            "window_seconds",
            "params",
            "scope",
            "account_id",
            "strategy_id",
            "instrument__instrument_id",
            "sector_id",
        )
    ]
    instruments = [
        {
            "pk": i["id"],
            "instrument_id": i["instrument_id"],
            "sector_id": i["sector_id"],
            "asset_class": i["asset_class"],
            "tradable": i["tradable"],
            "tick": i["tick_size"].normalize(),
            "lot": i["lot_size"].normalize(),
            "min_qty": i["min_quantity"],
            "max_qty": i["max_quantity"],
            "multiplier": i["multiplier"],
            "base_ccy": i["base_currency"],
            "quote_ccy": i["quote_currency"],
        }
        for i in Instrument.objects.values(
            "id",
            "instrument_id",
            "sector_id",
            "asset_class",
            "tradable",
            "tick_size",
            "lot_size",
            "min_quantity",
            "max_quantity",
            "multiplier",
            "base_currency",
            "quote_currency",
        )
    ]
    inst_ids = {i["pk"]: i["instrument_id"] for i in instruments}
    account_rows = list(Account.objects.values("id", "base_currency", "account_type", "leverage", "starting_balance"))
    opening, peaks = account_equity_marks([a["id"] for a in account_rows])
    accounts = [
        {
            "id": a["id"],
            "base_ccy": a["base_currency"],
            "account_type": a["account_type"],
            "leverage": a["leverage"] if a["leverage"] > 0 else Decimal(1),
            "starting_balance": a["starting_balance"],
            "session_start_equity": opening.get(a["id"], a["starting_balance"]),
            "peak_equity": max(peaks.get(a["id"], a["starting_balance"]), a["starting_balance"]),
        }
        for a in account_rows
    ]
    balances = [
        {"account": b["account_id"], "currency": b["currency"], "total": b["total"], "locked": b["locked"]}
        for b in CashBalance.objects.values("account_id", "currency", "total", "locked")
    ]
    positions = [
        {
            "account": p["account_id"],
            "instrument_id": inst_ids[p["instrument_id"]],
            "strategy": p["strategy_id"],
            "quantity": p["quantity"],
            "avg_price": p["avg_price"],
            "realized_pnl": p["realized_pnl"],
        }
        for p in Position.objects.values(
            "account_id", "instrument_id", "strategy_id", "quantity", "avg_price", "realized_pnl"
        )
    ]
    kill_switches = []
    for k in KillSwitch.objects.filter(engaged=True).values(
        "scope", "mode", "reason", "account_id", "strategy_id", "instrument__instrument_id", "sector_id"
    ):
        kill_switches.append(
            {"scope": k["scope"], "target": _scope_target(k), "mode": k["mode"], "reason": k["reason"]}
        )
    raw_corr = redis_client().get(CORRELATIONS_KEY)
    return {
        "limits": limits,
        "instruments": instruments,
        "accounts": accounts,
        "balances": balances,
        "positions": positions,
        "quotes": quotes_load(),
        "kill_switches": kill_switches,
        "correlations": json.loads(raw_corr)["matrix"] if raw_corr else {},
    }


def snapshot_load() -> GateSnapshot:
    started = time.time()
    # ``built_at`` is when loading began: anything committed later arrives as a message.
    return snapshot_build(snapshot_data_load(), built_at=started)
