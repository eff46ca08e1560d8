"""The judged inputs as stored in the decision ledger (JSON), and back.

Decimals are stored as strings (exact); floats (ages, correlations) round-trip
exactly through JSON's repr.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from risk.gate.snapshot import LimitRule

_INSTRUMENT_DECIMALS = ("tick", "lot", "min_qty", "max_qty", "multiplier")
_ACCOUNT_DECIMALS = ("leverage", "equity", "free_cash", "gross", "session_start_equity", "peak_equity")
_TOP_DECIMALS = ("fx", "position", "inst_notional", "sector_gross", "sector_net", "strategy_position")


def _s(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _d(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def inputs_to_json(inp: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in inp.items():
        if key == "limits":
            out[key] = [r.as_json() for r in value]
        elif key == "effective":
            out[key] = [r.id for r in value]
        elif isinstance(value, dict) and key == "correlation":
            out[key] = {k: {"group": g["group"], "gross": str(g["gross"])} for k, g in value.items()}
        elif isinstance(value, dict):
            out[key] = {k: _s(v) for k, v in value.items()}
        else:
            out[key] = _s(value)
    return out


def inputs_from_json(data: dict[str, Any]) -> dict[str, Any]:
    inp = dict(data)
    inp["limits"] = [LimitRule(**{**r, "value": Decimal(r["value"])}) for r in data.get("limits", [])]
    by_id = {r.id: r for r in inp["limits"]}
    inp["effective"] = [by_id[i] for i in data.get("effective", [])] or None
    if isinstance(data.get("instrument"), dict):
        inp["instrument"] = {k: (_d(v) if k in _INSTRUMENT_DECIMALS else v) for k, v in data["instrument"].items()}
    if isinstance(data.get("account"), dict):
        inp["account"] = {k: (_d(v) if k in _ACCOUNT_DECIMALS else v) for k, v in data["account"].items()}
    if isinstance(data.get("quote"), dict):
        inp["quote"] = {k: (_d(v) if k in ("bid", "ask", "last") else v) for k, v in data["quote"].items()}
    for key in _TOP_DECIMALS:
        if key in data:
            inp[key] = _d(data[key])
    if isinstance(data.get("strategy"), dict):
        inp["strategy"] = {k: _d(v) for k, v in data["strategy"].items()}
    if "correlation" in data:
        inp["correlation"] = {
            k: {"group": g["group"], "gross": Decimal(g["gross"])} for k, g in data["correlation"].items()
        }
    return inp
