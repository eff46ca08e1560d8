"""The gate's checks: pure functions of (order request, judged inputs).

``gather_inputs`` reads the in-memory snapshot and copies out only what this
order's checks need (the "input snapshot" stored in the decision ledger);
``evaluate`` runs every check on those inputs and returns the results plus the
reservation plan for the atomic cross-process step; ``evaluate_reservation``
turns the counters the reservation script saw into check results. Replaying a
stored decision runs ``evaluate`` and ``evaluate_reservation`` again on the stored
inputs — no database, no Redis, no clock — and must give the same verdict.

Convention: a limit is the largest allowed value — measured == limit passes,
anything above it rejects.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from risk.gate.request import OrderRequest
from risk.gate.snapshot import ZERO, GateSnapshot, LimitRule

HUNDRED = Decimal(100)
ONE_D = Decimal(1)
DEFAULT_CORRELATION_THRESHOLD = 0.8
# Checks that only an atomic Redis step can decide (counts shared by every process).
RESERVATION_ONLY_KINDS = frozenset({"order_rate", "max_open_orders"})


@dataclass(slots=True)
class CheckResult:
    name: str
    passed: bool
    measured: Any = None
    limit: Any = None
    limit_id: int | None = None
    limit_version: int | None = None
    reason_code: str = ""
    message: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "passed": self.passed,
            "measured": None if self.measured is None else str(self.measured),
            "limit": None if self.limit is None else str(self.limit),
            "limit_id": self.limit_id,
            "limit_version": self.limit_version,
            "reason_code": self.reason_code,
            "message": self.message,
        }


@dataclass(slots=True)
class ReservationItem:
    """``sum(counters[keys]) + amount <= headroom`` (integers: lots or cents), checked atomically."""

    name: str
    keys: list[str]
    amount: int
    headroom: int
    scale: Decimal  # units of one integer step (lot size, or 0.01 of base currency)
    reason_code: str
    rule: LimitRule | None

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "keys": self.keys, "amount": str(self.amount), "headroom": str(self.headroom)}


@dataclass(slots=True)
class RateItem:
    name: str
    key: str
    window_ms: int
    limit: int
    rule: LimitRule

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "key": self.key, "window": self.window_ms, "limit": self.limit}


@dataclass(slots=True)
class ReservationPlan:
    items: list[ReservationItem]
    rates: list[RateItem]
    increments: dict[str, int]


def _cents_up(x: Decimal) -> int:
    return int((x * HUNDRED).to_integral_value(ROUND_CEILING))


def _cents_down(x: Decimal) -> int:
    return int((x * HUNDRED).to_integral_value(ROUND_FLOOR))


def _units_down(x: Decimal, unit: Decimal) -> int:
    return int((x / unit).to_integral_value(ROUND_FLOOR))


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------
def _variant(rule: LimitRule) -> tuple:
    """Rules with the same variant measure the same thing for an order: only the tightest can bind."""
    k = rule.kind
    if k in ("max_position_size", "max_position_notional", "daily_loss"):
        return (k, rule.scope == "strategy")
    if k == "correlation_exposure":
        return (k, float(rule.params.get("threshold", DEFAULT_CORRELATION_THRESHOLD)))
    if k == "max_open_orders":
        return (k, rule.scope)
    if k == "order_rate":
        return (k, rule.scope, rule.window_seconds)
    if k == "instrument_list":
        return (k, rule.id)
    return (k,)


def effective_limits(rules: list[LimitRule]) -> list[LimitRule]:
    """The binding rule per variant (the lowest value; for a free-balance floor, the highest), ties by id."""
    best: dict[tuple, LimitRule] = {}
    for rule in rules:
        key = _variant(rule)
        cur = best.get(key)
        if cur is None:
            best[key] = rule
            continue
        if rule.kind == "min_free_balance":
            tighter = rule.value > cur.value or (rule.value == cur.value and rule.id < cur.id)
        else:
            tighter = rule.value < cur.value or (rule.value == cur.value and rule.id < cur.id)
        if tighter:
            best[key] = rule
    return sorted(best.values(), key=lambda r: (r.kind, r.id))


def applicable_limits(
    snap: GateSnapshot, req: OrderRequest, sector_id: int | None
) -> tuple[list[LimitRule], list[LimitRule]]:
    """(every enabled limit whose scope matches the order, the binding ones), memoised per
    (account, strategy, instrument): limits only change with a reload, which builds a new snapshot."""
    key = (req.account_id, req.strategy_id, req.instrument_id)
    hit = snap.limit_cache.get(key)
    if hit is not None:
        return hit
    by_scope = snap.limits_by_scope
    rules = list(by_scope.get(("global",), ()))
    rules += by_scope.get(("account", req.account_id), ())
    if req.strategy_id is not None:
        rules += by_scope.get(("strategy", req.strategy_id), ())
    rules += by_scope.get(("instrument", req.instrument_id), ())
    if sector_id is not None:
        rules += by_scope.get(("sector", sector_id), ())
    hit = (rules, effective_limits(rules))
    snap.limit_cache[key] = hit
    return hit


def gather_inputs(snap: GateSnapshot, req: OrderRequest, *, now: float) -> dict[str, Any]:
    """Copy out of the snapshot exactly what this order is judged on."""
    inst = snap.instruments.get(req.instrument_id)
    acct = snap.accounts.get(req.account_id)
    sector_id = inst.sector_id if inst else None
    rules, effective = applicable_limits(snap, req, sector_id)
    inp: dict[str, Any] = {"now": now, "limits": rules, "effective": effective, "snapshot_age": now - snap.built_at}
    if inst is None or acct is None:
        inp["instrument"] = None if inst is None else True
        inp["account"] = None if acct is None else True
        return inp
    iid = req.instrument_id
    aid = req.account_id
    inp["instrument"] = {
        "sector": sector_id,
        "tradable": inst.tradable,
        "tick": inst.tick,
        "lot": inst.lot,
        "min_qty": inst.min_qty,
        "max_qty": inst.max_qty,
        "multiplier": inst.multiplier,
        "quote_ccy": inst.quote_ccy,
    }
    state = snap.account_state.get(aid)
    inp["account"] = {
        "base_ccy": acct.base_ccy,
        "type": acct.account_type,
        "leverage": acct.leverage,
        "equity": state.equity if state else None,
        "free_cash": state.free_cash if state else None,
        "gross": state.gross if state else None,
        "complete": bool(state and state.complete),
        "session_start_equity": acct.session_start_equity,
        "peak_equity": acct.peak_equity,
    }
    q = snap.quotes.get(iid)
    inp["quote"] = None if q is None else {"bid": q[0], "ask": q[1], "last": q[2], "age": now - q[3] / 1e9}
    inp["fx"] = snap.fx_rate(inst.quote_ccy, acct.base_ccy)
    inp["position"] = snap.net_position.get((aid, iid), ZERO)
    inp["inst_notional"] = state.inst_notional.get(iid, ZERO) if state else ZERO
    inp["sector_gross"] = state.sector_gross.get(sector_id, ZERO) if state else ZERO
    inp["sector_net"] = state.sector_net.get(sector_id, ZERO) if state else ZERO
    if req.strategy_id is not None:
        inp["strategy_position"] = snap.strategy_position.get((req.strategy_id, iid), ZERO)
        s = snap.strategy_state.get(req.strategy_id)
        inp["strategy"] = {"gross": s.gross if s else ZERO, "pnl": s.pnl if s else ZERO}
    ks = snap.kill_switches
    if ks:
        found = []
        for key in (
            ("global", None),
            ("account", aid),
            ("strategy", req.strategy_id),
            ("instrument", iid),
            ("sector", sector_id),
        ):
            hit = ks.get(key)
            if hit is not None and (key[0] == "global" or key[1] is not None):
                found.append([key[0], key[1], hit[0], hit[1]])
        inp["kill_switches"] = found
    else:
        inp["kill_switches"] = []
    groups = {}
    for rule in effective:
        if rule.kind == "correlation_exposure":
            threshold = float(rule.params.get("threshold", DEFAULT_CORRELATION_THRESHOLD))
            group = snap.correlated_group(iid, threshold)
            notionals = state.inst_notional if state else {}
            groups[str(rule.id)] = {"group": group, "gross": sum((abs(notionals.get(j, ZERO)) for j in group), ZERO)}
    inp["correlation"] = groups
    return inp


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------
def _scope_entity(rule: LimitRule, req: OrderRequest, sector_id: int | None) -> str:
    if rule.scope == "strategy":
        return f"s{req.strategy_id}"
    if rule.scope == "instrument":
        return f"a{req.account_id}:i{req.instrument_id}"
    if rule.scope == "sector":
        return f"a{req.account_id}:sec{sector_id}"
    return f"a{req.account_id}"


def _result(rule: LimitRule, passed: bool, measured, limit, code: str, message: str) -> CheckResult:
    return CheckResult(
        rule.kind, passed, measured, limit, rule.id, rule.version, "" if passed else code, message if not passed else ""
    )


def evaluate(
    req: OrderRequest, inp: dict[str, Any], *, max_snapshot_age: float, max_quote_age: float
) -> tuple[list[CheckResult], ReservationPlan | None]:
    """All in-process checks. Returns (results, plan); plan is None when a check failed."""
    results: list[CheckResult] = []
    add = results.append

    if inp["snapshot_age"] > max_snapshot_age:
        add(
            CheckResult(
                "snapshot_fresh",
                False,
                round(inp["snapshot_age"], 3),
                max_snapshot_age,
                None,
                None,
                "SNAPSHOT_STALE",
                "The gate's risk snapshot is older than its bound",
            )
        )
        return results, None
    if inp["instrument"] is None:
        add(
            CheckResult(
                "instrument_known",
                False,
                reason_code="UNKNOWN_INSTRUMENT",
                message=f"Unknown instrument {req.instrument_id}",
            )
        )
    if inp["account"] is None:
        add(
            CheckResult(
                "account_known", False, reason_code="UNKNOWN_ACCOUNT", message=f"Unknown account {req.account_id}"
            )
        )
    if results:
        return results, None

    inst = inp["instrument"]
    acct = inp["account"]
    rules: list[LimitRule] = inp.get("effective") or effective_limits(inp["limits"])
    qty = req.quantity
    buy = req.side == "BUY"
    signed = qty if buy else -qty
    pos = inp["position"]
    new_pos = pos + signed
    reducing = pos != 0 and (pos > 0) != buy and qty <= abs(pos)
    sector_id = inst["sector"]
    aid = req.account_id
    iid = req.instrument_id

    # -- kill switch and reduce-only ------------------------------------------
    for scope, target, mode, reason in inp["kill_switches"]:
        label = scope if target is None else f"{scope} {target}"
        if mode == "halt":
            add(
                CheckResult(
                    "kill_switch",
                    False,
                    "halt",
                    None,
                    None,
                    None,
                    "KILL_SWITCH_HALTED",
                    f"Kill switch engaged ({label}): {reason}",
                )
            )
        elif not reducing:
            add(
                CheckResult(
                    "kill_switch",
                    False,
                    "reduce_only",
                    None,
                    None,
                    None,
                    "KILL_SWITCH_REDUCE_ONLY",
                    f"Kill switch reduce-only ({label}): only orders that shrink the position pass",
                )
            )
        else:
            add(CheckResult("kill_switch", True, "reduce_only"))
    if req.reduce_only and not reducing:
        add(
            CheckResult(
                "reduce_only",
                False,
                new_pos,
                pos,
                None,
                None,
                "REDUCE_ONLY_WOULD_INCREASE",
                "A reduce-only order must shrink the existing position",
            )
        )

    # -- instrument rules ---------------------------------------------------------
    if not inst["tradable"]:
        add(
            CheckResult(
                "instrument_tradable", False, reason_code="INSTRUMENT_NOT_TRADABLE", message=f"{iid} is not tradable"
            )
        )
    lot = inst["lot"]
    if qty % lot:
        add(
            CheckResult(
                "lot_size",
                False,
                qty,
                lot,
                reason_code="QUANTITY_NOT_LOT_MULTIPLE",
                message=f"Quantity {qty} is not a multiple of the lot size {lot}",
            )
        )
    if qty < inst["min_qty"]:
        add(
            CheckResult(
                "min_quantity",
                False,
                qty,
                inst["min_qty"],
                reason_code="QUANTITY_BELOW_MIN",
                message=f"Quantity {qty} is below the instrument minimum {inst['min_qty']}",
            )
        )
    if inst["max_qty"] is not None and qty > inst["max_qty"]:
        add(
            CheckResult(
                "max_quantity",
                False,
                qty,
                inst["max_qty"],
                reason_code="QUANTITY_ABOVE_MAX",
                message=f"Quantity {qty} is above the instrument maximum {inst['max_qty']}",
            )
        )
    tick = inst["tick"]
    for label, px in (("price", req.price), ("trigger_price", req.trigger_price)):
        if px is not None and px % tick:
            add(
                CheckResult(
                    "tick_size",
                    False,
                    px,
                    tick,
                    reason_code="PRICE_NOT_ON_TICK",
                    message=f"{label} {px} is not on the tick size {tick}",
                )
            )

    # -- prices ------------------------------------------------------------------------
    quote = inp["quote"]
    fx = inp["fx"]
    if quote is None:
        add(CheckResult("price_available", False, reason_code="NO_PRICE", message=f"No market price for {iid}"))
        return results, None
    if quote["age"] > max_quote_age:
        add(
            CheckResult(
                "price_fresh",
                False,
                round(quote["age"], 3),
                max_quote_age,
                None,
                None,
                "PRICE_STALE",
                f"The last price for {iid} is {quote['age']:.0f}s old",
            )
        )
        return results, None
    if fx is None:
        add(
            CheckResult(
                "fx_rate",
                False,
                reason_code="NO_FX_RATE",
                message=f"No rate to convert {inst['quote_ccy']} into {acct['base_ccy']}",
            )
        )
        return results, None
    if not acct["complete"] or acct["equity"] is None:
        add(
            CheckResult(
                "valuation",
                False,
                reason_code="VALUATION_INCOMPLETE",
                message="A position or balance of the account cannot be valued (price or FX rate missing)",
            )
        )
        return results, None
    bid, ask, last = quote["bid"], quote["ask"], quote["last"]
    mid = (bid + ask) / 2 if bid and ask else last
    ref = last if last else mid
    if req.order_type in ("LIMIT", "STOP_LIMIT"):
        exec_px = req.price
    elif req.order_type == "STOP_MARKET":
        exec_px = req.trigger_price
    else:
        exec_px = (ask if buy else bid) or last
    mult = inst["multiplier"]
    unit_value = mult * fx  # base-currency value of one unit per unit of price
    notional = qty * exec_px * unit_value
    equity = acct["equity"]
    leverage = acct["leverage"]

    # -- buying power (always on for orders that add exposure) ---------------------------
    min_free_rules = [r for r in rules if r.kind == "min_free_balance"]
    if not reducing:
        if acct["type"] == "cash":
            if not buy:
                holdings = pos if pos > 0 else ZERO
                if qty > holdings:
                    add(
                        CheckResult(
                            "buying_power",
                            False,
                            qty,
                            holdings,
                            None,
                            None,
                            "INSUFFICIENT_HOLDINGS",
                            "A cash account cannot sell more than it holds",
                        )
                    )
            free_notional = acct["free_cash"] if buy else None
        else:
            free_margin = equity - acct["gross"] / leverage
            free_notional = free_margin * leverage
        if free_notional is not None:
            for rule in [None, *min_free_rules]:
                reserve = rule.value if rule is not None else ZERO
                headroom = free_notional - reserve * (leverage if acct["type"] != "cash" else 1)
                passed = notional <= headroom
                if passed:
                    add(
                        CheckResult(
                            "buying_power" if rule is None else "min_free_balance",
                            True,
                            notional,
                            headroom,
                            rule.id if rule else None,
                            rule.version if rule else None,
                        )
                    )
                else:
                    add(
                        CheckResult(
                            "buying_power" if rule is None else "min_free_balance",
                            False,
                            notional,
                            headroom,
                            rule.id if rule else None,
                            rule.version if rule else None,
                            "INSUFFICIENT_BUYING_POWER" if rule is None else "MIN_FREE_BALANCE",
                            f"Order notional {notional:.2f} exceeds buying power {headroom:.2f} {acct['base_ccy']}",
                        )
                    )
    else:
        add(CheckResult("buying_power", True, ZERO, None, message="reduces exposure"))

    plan_items: list[ReservationItem] = []
    rates: list[RateItem] = []
    lots = int(qty / lot) if not qty % lot else 0
    if not reducing:
        plan_items.append(
            ReservationItem(
                "buying_power",
                [f"n:a:{aid}"],
                _cents_up(notional),
                _cents_down(
                    min(
                        (
                            r.limit
                            for r in results
                            if r.name in ("buying_power", "min_free_balance") and r.limit is not None
                        ),
                        default=Decimal("1e20"),
                    )
                ),
                Decimal("0.01"),
                "INSUFFICIENT_BUYING_POWER",
                None,
            )
        )
    else:
        key = f"q:s:{aid}:{iid}" if not buy else f"q:b:{aid}:{iid}"
        plan_items.append(
            ReservationItem("reduce_in_flight", [key], lots, _units_down(abs(pos), lot), lot, "REDUCE_CONFLICT", None)
        )

    # -- limit-driven checks ------------------------------------------------------------
    # Measures are computed once per kind (several scopes may limit the same thing) and
    # messages only for failures: this loop is the hot path's hot spot.
    strat = inp.get("strategy")
    mark_unit = mid * unit_value
    exposure = qty * mark_unit  # base-currency exposure the order adds at the mark
    signed_exposure = exposure if buy else -exposure
    cur_inst = inp["inst_notional"]
    cache: dict[Any, Any] = {}
    CR = CheckResult
    cents = Decimal("0.01")
    for rule in rules:
        kind = rule.kind
        v = rule.value
        if kind == "max_order_quantity":
            ok = qty <= v
            add(
                CR(
                    kind,
                    ok,
                    qty,
                    v,
                    rule.id,
                    rule.version,
                    "" if ok else "ORDER_QUANTITY_LIMIT",
                    "" if ok else f"Quantity {qty} exceeds {v}",
                )
            )
        elif kind == "max_order_notional":
            ok = notional <= v
            add(
                CR(
                    kind,
                    ok,
                    notional,
                    v,
                    rule.id,
                    rule.version,
                    "" if ok else "ORDER_NOTIONAL_LIMIT",
                    "" if ok else f"Order notional {notional:.2f} exceeds {v} {acct['base_ccy']}",
                )
            )
        elif kind == "price_band_pct":
            worst = cache.get("band")
            if worst is None:
                worst = ZERO
                for px in (req.price, req.trigger_price):
                    if px is not None:
                        dev = abs(px - ref) / ref * HUNDRED
                        if dev > worst:
                            worst = dev
                cache["band"] = worst
            ok = worst <= v
            add(
                CR(
                    kind,
                    ok,
                    worst,
                    v,
                    rule.id,
                    rule.version,
                    "" if ok else "PRICE_BAND",
                    "" if ok else f"Price is {worst:.4f}% away from the market {ref}; band is {v}%",
                )
            )
        elif kind == "max_position_size" or kind == "max_position_notional":
            by_strategy = rule.scope == "strategy" and req.strategy_id is not None
            base_pos = inp["strategy_position"] if by_strategy else pos
            after = abs(base_pos + signed)
            if kind == "max_position_size":
                limit_qty = v
                measured = after
                code = "POSITION_SIZE_LIMIT"
            else:
                limit_qty = v / mark_unit
                measured = after * mark_unit
                code = "POSITION_NOTIONAL_LIMIT"
            ok = after <= limit_qty or after < abs(base_pos)
            add(
                CR(
                    kind,
                    ok,
                    measured,
                    v,
                    rule.id,
                    rule.version,
                    "" if ok else code,
                    "" if ok else f"Resulting position {measured} would exceed {v}",
                )
            )
            if not reducing:
                if by_strategy:
                    key = f"q:s{'b' if buy else 's'}:{req.strategy_id}:{iid}"
                else:
                    key = f"q:{'b' if buy else 's'}:{aid}:{iid}"
                head = limit_qty - base_pos if buy else limit_qty + base_pos
                plan_items.append(ReservationItem(kind, [key], lots, _units_down(head, lot), lot, code, rule))
        elif kind == "max_leverage":
            if equity > 0:
                after = (acct["gross"] + (ZERO if reducing else exposure)) / equity
                ok = reducing or after <= v
            else:
                after, ok = None, reducing
            add(
                CR(
                    kind,
                    ok,
                    after,
                    v,
                    rule.id,
                    rule.version,
                    "" if ok else "LEVERAGE_LIMIT",
                    "" if ok else f"Gross leverage would be {after} > {v}",
                )
            )
            if not reducing and equity > 0:
                plan_items.append(
                    ReservationItem(
                        kind,
                        [f"n:a:{aid}"],
                        _cents_up(exposure),
                        _cents_down(v * equity - acct["gross"]),
                        cents,
                        "LEVERAGE_LIMIT",
                        rule,
                    )
                )
        elif kind == "daily_loss":
            if rule.scope == "strategy" and strat is not None:
                pnl = strat["pnl"]
            else:
                pnl = equity - acct["session_start_equity"]
            loss = -pnl if pnl < 0 else ZERO
            ok = reducing or loss <= v
            add(
                CR(
                    kind,
                    ok,
                    loss,
                    v,
                    rule.id,
                    rule.version,
                    "" if ok else "DAILY_LOSS_LIMIT",
                    "" if ok else f"Daily loss {loss:.2f} exceeds {v}",
                )
            )
        elif kind == "max_drawdown_pct":
            dd = cache.get("dd")
            if dd is None:
                peak = max(acct["peak_equity"], equity)
                dd = cache["dd"] = (peak - equity) / peak * HUNDRED if peak > 0 else HUNDRED
            ok = reducing or dd <= v
            add(
                CR(
                    kind,
                    ok,
                    dd,
                    v,
                    rule.id,
                    rule.version,
                    "" if ok else "DRAWDOWN_LIMIT",
                    "" if ok else f"Drawdown {dd:.4f}% exceeds {v}%",
                )
            )
        elif kind == "correlation_exposure":
            grp = inp["correlation"][str(rule.id)]
            gross = grp["gross"]
            after = gross - abs(cur_inst) + abs(cur_inst + signed_exposure)
            ok = after <= v or after <= gross
            add(
                CR(
                    kind,
                    ok,
                    after,
                    v,
                    rule.id,
                    rule.version,
                    "" if ok else "CORRELATION_LIMIT",
                    "" if ok else f"Exposure to correlated group {grp['group']} would be {after:.2f} > {v}",
                )
            )
            if not reducing:
                plan_items.append(
                    ReservationItem(
                        kind,
                        [f"n:i:{aid}:{j}" for j in grp["group"]],
                        _cents_up(exposure),
                        _cents_down(v - gross),
                        cents,
                        "CORRELATION_LIMIT",
                        rule,
                    )
                )
        elif kind == "sector_gross_pct":
            sg = inp["sector_gross"]
            after = sg - abs(cur_inst) + abs(cur_inst + signed_exposure)
            pct = after / equity * HUNDRED if equity > 0 else None
            ok = after <= sg or (pct is not None and pct <= v)
            add(
                CR(
                    kind,
                    ok,
                    pct,
                    v,
                    rule.id,
                    rule.version,
                    "" if ok else "SECTOR_GROSS_LIMIT",
                    "" if ok else f"Sector gross exposure would be {pct}% > {v}%",
                )
            )
            if not reducing and equity > 0:
                plan_items.append(
                    ReservationItem(
                        kind,
                        [f"n:sec:{aid}:{sector_id}"],
                        _cents_up(exposure),
                        _cents_down(v / HUNDRED * equity - sg),
                        cents,
                        "SECTOR_GROSS_LIMIT",
                        rule,
                    )
                )
        elif kind == "sector_net_pct":
            before = inp["sector_net"]
            after = before + signed_exposure
            pct = abs(after) / equity * HUNDRED if equity > 0 else None
            ok = abs(after) <= abs(before) or (pct is not None and pct <= v)
            add(
                CR(
                    kind,
                    ok,
                    pct,
                    v,
                    rule.id,
                    rule.version,
                    "" if ok else "SECTOR_NET_LIMIT",
                    "" if ok else f"Sector net exposure would be {pct}% > {v}%",
                )
            )
        elif kind == "risk_budget":
            if strat is None:
                continue
            loss = -strat["pnl"] if strat["pnl"] < 0 else ZERO
            consumed = strat["gross"] + (ZERO if reducing else exposure) + loss
            ok = reducing or consumed <= v
            add(
                CR(
                    kind,
                    ok,
                    consumed,
                    v,
                    rule.id,
                    rule.version,
                    "" if ok else "RISK_BUDGET_LIMIT",
                    "" if ok else f"Strategy risk budget use would be {consumed:.2f} > {v}",
                )
            )
            if not reducing:
                plan_items.append(
                    ReservationItem(
                        kind,
                        [f"n:s:{req.strategy_id}"],
                        _cents_up(exposure),
                        _cents_down(v - consumed + exposure),
                        cents,
                        "RISK_BUDGET_LIMIT",
                        rule,
                    )
                )
        elif kind == "instrument_list":
            params = rule.params
            if iid in (params.get("blocked") or ()):
                add(
                    CR(
                        kind,
                        False,
                        iid,
                        None,
                        rule.id,
                        rule.version,
                        "INSTRUMENT_BLOCKED",
                        f"{iid} is on the blocked list",
                    )
                )
            elif params.get("allowed") and iid not in params["allowed"]:
                add(
                    CR(
                        kind,
                        False,
                        iid,
                        None,
                        rule.id,
                        rule.version,
                        "INSTRUMENT_NOT_ALLOWED",
                        f"{iid} is not on the allowed list",
                    )
                )
            else:
                add(CR(kind, True, iid, None, rule.id, rule.version, "", ""))
        elif kind == "max_open_orders":
            entity = _scope_entity(rule, req, sector_id)
            plan_items.append(ReservationItem(kind, [f"oo:{entity}"], 1, int(v), ONE_D, "OPEN_ORDERS_LIMIT", rule))
        elif kind == "order_rate":
            entity = _scope_entity(rule, req, sector_id)
            rates.append(
                RateItem(kind, f"ni:risk:rate:{rule.id}:{entity}", int(rule.window_seconds or 1) * 1000, int(v), rule)
            )

    if any(not r.passed for r in results):
        return results, None

    increments: dict[str, int] = {}
    side_key = "b" if buy else "s"
    increments[f"q:{side_key}:{aid}:{iid}"] = lots
    increments[f"oo:a{aid}"] = 1
    increments[f"oo:a{aid}:i{iid}"] = 1
    increments[f"oo:a{aid}:sec{sector_id}"] = 1
    if req.strategy_id is not None:
        increments[f"q:s{side_key}:{req.strategy_id}:{iid}"] = lots
        increments[f"oo:s{req.strategy_id}"] = 1
    if not reducing:
        cents = _cents_up(exposure)
        increments[f"n:a:{aid}"] = max(cents, _cents_up(notional))
        increments[f"n:i:{aid}:{iid}"] = cents
        increments[f"n:sec:{aid}:{sector_id}"] = cents
        if req.strategy_id is not None:
            increments[f"n:s:{req.strategy_id}"] = cents
    return results, ReservationPlan(plan_items, rates, increments)


def evaluate_reservation(plan: ReservationPlan, seen: list[int]) -> list[CheckResult]:
    """Check results from the counters the atomic script saw (items first, then rates)."""
    out = []
    n = len(plan.items)
    for item, cur in zip(plan.items, seen[:n], strict=True):
        total = cur + item.amount
        passed = total <= item.headroom
        rule = item.rule
        out.append(
            CheckResult(
                f"{item.name}:in_flight",
                passed,
                total * item.scale,
                item.headroom * item.scale,
                rule.id if rule else None,
                rule.version if rule else None,
                "" if passed else item.reason_code,
                ""
                if passed
                else f"With orders in flight in every process ({cur * item.scale}) this order "
                f"({item.amount * item.scale}) would exceed {item.headroom * item.scale}",
            )
        )
    for rate, count in zip(plan.rates, seen[n:], strict=True):
        passed = count + 1 <= rate.limit
        out.append(
            CheckResult(
                rate.name,
                passed,
                count + 1,
                rate.limit,
                rate.rule.id,
                rate.rule.version,
                "" if passed else "ORDER_RATE_LIMIT",
                "" if passed else f"{count + 1} orders in {rate.window_ms // 1000}s exceeds {rate.limit}",
            )
        )
    return out
