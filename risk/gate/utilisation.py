"""How much of each limit is in use right now, from the snapshot (no database).

Limits judged per order (order size, notional, price band, instrument lists)
have no standing utilisation; every other kind is measured at its scope, the
worst account/position/strategy within the scope counting.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from risk.gate.snapshot import ZERO, GateSnapshot, LimitRule

HUNDRED = Decimal(100)
PER_ORDER_KINDS = frozenset(
    {"max_order_quantity", "max_order_notional", "price_band_pct", "instrument_list", "order_rate"}
)
# Measured against an account's equity, which needs every position and balance priced.
EQUITY_KINDS = frozenset({"daily_loss", "max_drawdown_pct", "max_leverage", "sector_gross_pct", "sector_net_pct"})


def _accounts_in_scope(snap: GateSnapshot, rule: LimitRule) -> list[int]:
    if rule.scope == "account":
        return [rule.target] if rule.target in snap.accounts else []
    return list(snap.accounts)


def _positions_in_scope(snap: GateSnapshot, rule: LimitRule):
    if rule.scope == "strategy":
        for (sid, iid), qty in snap.strategy_position.items():
            if sid == rule.target:
                yield None, iid, qty
        return
    for (aid, iid), qty in snap.net_position.items():
        if rule.scope == "account" and aid != rule.target:
            continue
        if rule.scope == "instrument" and iid != rule.target:
            continue
        if rule.scope == "sector" and snap.instruments[iid].sector_id != rule.target:
            continue
        yield aid, iid, qty


def measure(snap: GateSnapshot, rule: LimitRule, counters: dict[str, int] | None = None) -> tuple[Decimal | None, str]:
    """(measured value, where) for one limit; None when the kind has no standing measure."""
    kind = rule.kind
    best: Decimal | None = None
    where = ""

    def consider(value: Decimal | None, label: str) -> None:
        nonlocal best, where
        if value is not None and (best is None or value > best):
            best, where = value, label

    if kind in PER_ORDER_KINDS:
        return None, ""
    if kind in ("max_position_size", "max_position_notional"):
        for aid, iid, qty in _positions_in_scope(snap, rule):
            if kind == "max_position_size":
                consider(abs(qty), iid)
            else:
                mark = snap.mark(iid)
                inst = snap.instruments[iid]
                acct = snap.accounts.get(aid) if aid else None
                rate = snap.fx_rate(inst.quote_ccy, acct.base_ccy) if acct else Decimal(1)
                if mark is not None and rate is not None:
                    consider(abs(qty) * mark * inst.multiplier * rate, iid)
        return best if best is not None else ZERO, where
    if kind == "risk_budget":
        s = snap.strategy_state.get(rule.target)
        if s is None:
            return ZERO, ""
        return s.gross + (-s.pnl if s.pnl < 0 else ZERO), f"strategy {rule.target}"
    if kind == "max_open_orders":
        counters = counters or {}
        if rule.scope == "strategy":
            return Decimal(counters.get(f"oo:s{rule.target}", 0)), f"strategy {rule.target}"
        for aid in _accounts_in_scope(snap, rule):
            consider(Decimal(counters.get(f"oo:a{aid}", 0)), f"account {aid}")
        return best if best is not None else ZERO, where
    unvalued: list[int] = []
    for aid in _accounts_in_scope(snap, rule):
        state = snap.account_state.get(aid)
        info = snap.accounts[aid]
        if state is None:
            continue
        if not state.complete and kind in EQUITY_KINDS and rule.scope != "strategy":
            # A position or balance without a price or FX rate: the equity is a guess (cash alone
            # after buying reads as a loss), so the limit is unknown here, not breached.
            # The gate refuses the account's orders meanwhile (VALUATION_INCOMPLETE).
            unvalued.append(aid)
            continue
        eq = state.equity
        if kind == "daily_loss":
            if rule.scope == "strategy":
                s = snap.strategy_state.get(rule.target)
                pnl = s.pnl if s else ZERO
                return (-pnl if pnl < 0 else ZERO), f"strategy {rule.target}"
            pnl = eq - info.session_start_equity
            consider(-pnl if pnl < 0 else ZERO, f"account {aid}")
        elif kind == "max_drawdown_pct":
            peak = max(info.peak_equity, eq)
            consider((peak - eq) / peak * HUNDRED if peak > 0 else ZERO, f"account {aid}")
        elif kind == "max_leverage":
            consider(state.gross / eq if eq > 0 else None, f"account {aid}")
        elif kind == "min_free_balance":
            # Utilisation of a floor: how far free cash has come down towards it (reported as free cash).
            consider(state.free_cash, f"account {aid}")
        elif kind in ("sector_gross_pct", "sector_net_pct"):
            table = state.sector_gross if kind == "sector_gross_pct" else state.sector_net
            for sector, value in table.items():
                if rule.scope == "sector" and sector != rule.target:
                    continue
                consider(abs(value) / eq * HUNDRED if eq > 0 else None, f"account {aid} sector {sector}")
        elif kind == "correlation_exposure":
            members = rule.params.get("instruments")
            if isinstance(members, list):
                # An adopted cluster: exactly the instruments it names.
                consider(
                    sum((abs(state.inst_notional.get(j, ZERO)) for j in set(members)), ZERO),
                    f"account {aid} cluster of {len(set(members))}",
                )
                continue
            threshold = float(rule.params.get("threshold", 0.8))
            for iid in state.inst_notional:
                group = [iid] + [j for j, rho in snap.correlations.get(iid, {}).items() if rho >= threshold]
                consider(
                    sum((abs(state.inst_notional.get(j, ZERO)) for j in set(group)), ZERO),
                    f"account {aid} group of {iid}",
                )
    if best is None and unvalued:
        return None, f"account {', '.join(map(str, unvalued))}: valuation incomplete (price or FX rate missing)"
    return (best if best is not None else ZERO), where


def limit_utilisation(snap: GateSnapshot, *, counters: dict[str, int] | None = None) -> list[dict[str, Any]]:
    out = []
    for rule in snap.limits.values():
        measured, where = measure(snap, rule, counters)
        if measured is None:
            util = None
            breached = False
        elif rule.kind == "min_free_balance":
            util = (rule.value / measured * HUNDRED) if measured > 0 else HUNDRED
            breached = measured < rule.value
        else:
            util = measured / rule.value * HUNDRED
            breached = measured > rule.value
        out.append(
            {
                # No standing measure: per-order kinds (where is empty) or accounts that cannot be valued.
                "unknown": measured is None and bool(where),
                "limit_id": rule.id,
                "version": rule.version,
                "kind": rule.kind,
                "scope": rule.scope,
                "target": rule.target,
                "value": rule.value,
                "measured": measured,
                "where": where,
                "utilisation_pct": util.quantize(Decimal("0.01")) if util is not None else None,
                "breached": breached,
            }
        )
    return out
