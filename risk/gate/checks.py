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

Speed: this is every order's hot path (budget: p99 100 µs with every check on).
What does not change between orders — which limits apply to an (account,
strategy, instrument), the binding one per check, the Redis keys each counts in,
the correlated groups, an instrument list's verdict — is compiled once into a
``RuleSet`` (memoised on the snapshot) and replay compiles the same one from the
stored inputs. Per order a check appends an *outcome*, a plain tuple of
``CheckResult``'s fields in order, and formats its message only when it fails;
``CheckResult`` objects are made when someone reads them (ledger, ticket).
Plan items and rate items are plain tuples too (fields documented on
``ReservationPlan``), integers in lots and cents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from risk.gate.request import OrderRequest
from risk.gate.snapshot import ZERO, GateSnapshot, LimitRule

HUNDRED = Decimal(100)
ONE_D = Decimal(1)
CENT = Decimal("0.01")
NO_HEADROOM_LIMIT = Decimal("1e20")
DEFAULT_CORRELATION_THRESHOLD = 0.8

# An outcome: (name, passed, measured, limit, limit_id, limit_version, reason_code, message).
Outcome = tuple


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


def outcomes_checks(outcomes: list[Outcome]) -> list[CheckResult]:
    return [CheckResult(*o) for o in outcomes]


@dataclass(slots=True)
class ReservationPlan:
    """What the atomic step checks and, if everything fits, counts.

    ``items``: ``(name, keys, amount, headroom, scale, reason_code, rule)`` —
    ``sum(counters[keys]) + amount <= headroom`` in integers (lots or cents; ``scale``
    is one integer step in units). ``rates``: ``(name, key, window_ms, limit, rule)``.
    ``increments``: counter -> integer added when reserved. ``lots``: the order's size.
    """

    items: list[tuple]
    rates: list[tuple]
    increments: dict[str, int]
    lots: int


def _cents_up(x: Decimal) -> int:
    return (x * HUNDRED).__ceil__()


def _cents_down(x: Decimal) -> int:
    return (x * HUNDRED).__floor__()


def _units_down(x: Decimal, unit: Decimal) -> int:
    return (x / unit).__floor__()


# ---------------------------------------------------------------------------
# Which limits apply, compiled once per (account, strategy, instrument)
# ---------------------------------------------------------------------------
def _group_members(rule: LimitRule) -> frozenset[str] | None:
    """An adopted correlation cluster names its instruments (``params.instruments``); None otherwise."""
    members = rule.params.get("instruments")
    if members is None:
        return None
    if not isinstance(members, list) or not all(isinstance(i, str) for i in members):
        # Never guess what a malformed group covers: the gate errors, so it rejects.
        raise ValueError(f"limit {rule.id}: params.instruments must be a list of instrument ids")
    return frozenset(members)


def _variant(rule: LimitRule) -> tuple:
    """Rules with the same variant measure the same thing for an order: only the tightest can bind."""
    k = rule.kind
    if k in ("max_position_size", "max_position_notional", "daily_loss"):
        return (k, rule.scope == "strategy")
    if k == "correlation_exposure":
        members = _group_members(rule)
        if members is not None:
            return (k, "group", tuple(sorted(members)))
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


def _applies_to(rule: LimitRule, instrument_id: str) -> bool:
    # An adopted cluster is global in scope but limits only the instruments it names.
    if rule.kind != "correlation_exposure":
        return True
    members = _group_members(rule)
    return members is None or instrument_id in members


def correlation_group(snap: GateSnapshot, rule: LimitRule, instrument_id: str) -> list[str]:
    """The instruments a correlation limit adds up for an order in ``instrument_id``: the order's
    instrument first, then the adopted cluster's other members, or else those whose return
    correlation with it is at least ``params.threshold``."""
    members = _group_members(rule)
    if members is None:
        threshold = float(rule.params.get("threshold", DEFAULT_CORRELATION_THRESHOLD))
        return snap.correlated_group(instrument_id, threshold)
    return [instrument_id, *sorted(members - {instrument_id})]


@dataclass(slots=True, frozen=True)
class RuleSet:
    """The limits an (account, strategy, instrument) is judged by, and everything about them that
    does not change from one order to the next."""

    applied: list[LimitRule]  # every enabled limit whose scope matches (the ledger's "limits")
    binding: list[LimitRule]  # the tightest per variant, in ledger order (the ledger's "effective")
    checks: tuple[tuple[Callable, LimitRule, Any], ...]  # (check, rule, its precomputed part)
    min_free: tuple[LimitRule, ...]
    groups: dict[str, list[str]]  # correlation limit id (str) -> its group
    key_account: str  # n:a:<account>
    key_buys: str  # q:b:<account>:<instrument>
    key_sells: str
    key_strategy_buys: str
    key_strategy_sells: str
    key_instrument: str  # n:i:<account>:<instrument>
    key_sector: str  # n:sec:<account>:<sector>
    key_strategy: str  # n:s:<strategy>
    open_orders: dict[str, int]  # every oo: counter an order takes a slot in -> 1 (copied per order)


def _scope_entity(rule: LimitRule, aid: int, sid: int | None, iid: str, sector_id: int | None) -> str:
    if rule.scope == "strategy":
        return f"s{sid}"
    if rule.scope == "instrument":
        return f"a{aid}:i{iid}"
    if rule.scope == "sector":
        return f"a{aid}:sec{sector_id}"
    return f"a{aid}"


def ruleset_compile(
    applied: list[LimitRule],
    binding: list[LimitRule],
    *,
    account_id: int,
    strategy_id: int | None,
    instrument_id: str,
    sector_id: int | None,
    groups: dict[str, list[str]],
) -> RuleSet:
    aid, sid, iid = account_id, strategy_id, instrument_id
    key_instrument = f"n:i:{aid}:{iid}"
    checks = []
    for rule in binding:
        kind = rule.kind
        check = CHECKS.get(kind)
        if check is None:
            continue
        extra: Any = None
        if kind in ("max_position_size", "max_position_notional"):
            by_strategy = rule.scope == "strategy" and sid is not None
            extra = (by_strategy, f"q:sb:{sid}:{iid}", f"q:ss:{sid}:{iid}") if by_strategy else (False, "", "")
        elif kind == "correlation_exposure":
            extra = tuple(f"n:i:{aid}:{j}" for j in groups[str(rule.id)])
        elif kind == "instrument_list":
            extra = _instrument_list_outcome(rule, iid)
        elif kind == "max_open_orders":
            entity = _scope_entity(rule, aid, sid, iid, sector_id)
            extra = (kind, (f"oo:{entity}",), 1, int(rule.value), ONE_D, "OPEN_ORDERS_LIMIT", rule)
        elif kind == "order_rate":
            entity = _scope_entity(rule, aid, sid, iid, sector_id)
            window_ms = int(rule.window_seconds or 1) * 1000
            extra = (kind, f"ni:risk:rate:{rule.id}:{entity}", window_ms, int(rule.value), rule)
        checks.append((check, rule, extra))
    oo = [f"oo:a{aid}", f"oo:a{aid}:i{iid}", f"oo:a{aid}:sec{sector_id}"]
    if sid is not None:
        oo.append(f"oo:s{sid}")
    return RuleSet(
        applied=applied,
        binding=binding,
        checks=tuple(checks),
        min_free=tuple(r for r in binding if r.kind == "min_free_balance"),
        groups=groups,
        key_account=f"n:a:{aid}",
        key_buys=f"q:b:{aid}:{iid}",
        key_sells=f"q:s:{aid}:{iid}",
        key_strategy_buys=f"q:sb:{sid}:{iid}",
        key_strategy_sells=f"q:ss:{sid}:{iid}",
        key_instrument=key_instrument,
        key_sector=f"n:sec:{aid}:{sector_id}",
        key_strategy=f"n:s:{sid}",
        open_orders=dict.fromkeys(oo, 1),
    )


def ruleset_for(snap: GateSnapshot, req: OrderRequest, sector_id: int | None) -> RuleSet:
    """The order's RuleSet, memoised per (account, strategy, instrument): limits, correlations and
    sectors only change with a reload, which builds a new snapshot (``GateRuntime.reload`` carries the
    memo over only when none of them changed)."""
    key = (req.account_id, req.strategy_id, req.instrument_id)
    hit = snap.limit_cache.get(key)
    if hit is not None:
        return hit
    iid = req.instrument_id
    by_scope = snap.limits_by_scope
    rules = list(by_scope.get(("global",), ()))
    rules += by_scope.get(("account", req.account_id), ())
    if req.strategy_id is not None:
        rules += by_scope.get(("strategy", req.strategy_id), ())
    rules += by_scope.get(("instrument", iid), ())
    if sector_id is not None:
        rules += by_scope.get(("sector", sector_id), ())
    applied = [r for r in rules if _applies_to(r, iid)]
    binding = effective_limits(applied)
    groups = {str(r.id): correlation_group(snap, r, iid) for r in binding if r.kind == "correlation_exposure"}
    hit = ruleset_compile(
        applied,
        binding,
        account_id=req.account_id,
        strategy_id=req.strategy_id,
        instrument_id=iid,
        sector_id=sector_id,
        groups=groups,
    )
    snap.limit_cache[key] = hit
    return hit


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------
NO_STRATEGY = {"gross": ZERO, "pnl": ZERO}


def gather_inputs(snap: GateSnapshot, req: OrderRequest, *, now: float) -> tuple[dict[str, Any], RuleSet]:
    """Copy out of the snapshot exactly what this order is judged on, and the order's RuleSet.

    The instrument, account and strategy parts are dicts the snapshot built once
    (per instrument, per account state, per strategy state): shared, never mutated.
    """
    iid = req.instrument_id
    aid = req.account_id
    inst = snap.instruments.get(iid)
    acct = snap.accounts.get(aid)
    sector_id = inst.sector_id if inst else None
    rs = ruleset_for(snap, req, sector_id)
    inp: dict[str, Any] = {
        "now": now,
        "limits": rs.applied,
        "effective": rs.binding,
        "snapshot_age": now - snap.built_at,
    }
    if inst is None or acct is None:
        inp["instrument"] = None if inst is None else True
        inp["account"] = None if acct is None else True
        return inp, rs
    state = snap.account_state.get(aid)
    inp["instrument"] = snap.instrument_inputs[iid]
    inp["account"] = state.judged if state is not None else snap.account_inputs_without_state(aid)
    q = snap.quotes.get(iid)
    inp["quote"] = None if q is None else {"bid": q[0], "ask": q[1], "last": q[2], "age": now - q[3] / 1e9}
    inp["fx"] = snap.fx_rate(inst.quote_ccy, acct.base_ccy)
    inp["position"] = snap.net_position.get((aid, iid), ZERO)
    if state is not None:
        inp["inst_notional"] = state.inst_notional.get(iid, ZERO)
        inp["sector_gross"] = state.sector_gross.get(sector_id, ZERO)
        inp["sector_net"] = state.sector_net.get(sector_id, ZERO)
    else:
        inp["inst_notional"] = inp["sector_gross"] = inp["sector_net"] = ZERO
    sid = req.strategy_id
    if sid is not None:
        inp["strategy_position"] = snap.strategy_position.get((sid, iid), ZERO)
        s = snap.strategy_state.get(sid)
        inp["strategy"] = s.judged if s is not None else NO_STRATEGY
    ks = snap.kill_switches
    if ks:
        found = []
        for key in (("global", None), ("account", aid), ("strategy", sid), ("instrument", iid), ("sector", sector_id)):
            hit = ks.get(key)
            if hit is not None and (key[0] == "global" or key[1] is not None):
                found.append([key[0], key[1], hit[0], hit[1]])
        inp["kill_switches"] = found
    else:
        inp["kill_switches"] = []
    inp["correlation"] = {rule_id: _group_exposure(state, rule_id, iid, group) for rule_id, group in rs.groups.items()}
    return inp, rs


def _group_exposure(state, rule_id: str, iid: str, group: list[str]) -> dict[str, Any]:
    """``{"group", "gross"}``: the account's gross exposure to a correlation limit's group, memoised on
    the account state (replaced whole when a position or price changes)."""
    memo = state.memo if state is not None else {}
    hit = memo.get((rule_id, iid))
    if hit is None:
        notionals = state.inst_notional if state is not None else {}
        gross = ZERO
        for j in group:
            gross += abs(notionals.get(j, ZERO))
        hit = memo[(rule_id, iid)] = {"group": group, "gross": gross}
    return hit


def ruleset_from_inputs(req: OrderRequest, inp: dict[str, Any]) -> RuleSet:
    """The RuleSet a stored decision was judged by (replay: its limits and groups, no snapshot)."""
    binding = inp.get("effective") or effective_limits(inp["limits"])
    inst = inp["instrument"]
    return ruleset_compile(
        inp["limits"],
        binding,
        account_id=req.account_id,
        strategy_id=req.strategy_id,
        instrument_id=req.instrument_id,
        sector_id=inst["sector"] if isinstance(inst, dict) else None,
        groups={k: list(g["group"]) for k, g in (inp.get("correlation") or {}).items()},
    )


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------
class OrderJudgement:
    """What every limit check of one order reads (computed once) and what they write."""

    __slots__ = (
        "acct",
        "buy",
        "equity",
        "exposure",
        "exposure_cents",
        "failed",
        "iid",
        "inp",
        "items",
        "lot",
        "lots",
        "mark_unit",
        "notional",
        "out",
        "pos",
        "qty",
        "rates",
        "reducing",
        "ref",
        "req",
        "rs",
        "signed",
        "signed_exposure",
        "strat",
    )

    def fail(self, outcome: Outcome) -> None:
        self.out.append(outcome)
        self.failed.append(outcome[6])


def _gate_outcome(name: str, code: str, message: str, measured=None, limit=None) -> Outcome:
    return (name, False, measured, limit, None, None, code, message)


def evaluate(
    req: OrderRequest,
    inp: dict[str, Any],
    *,
    max_snapshot_age: float,
    max_quote_age: float,
    rules: RuleSet | None = None,
) -> tuple[list[Outcome], ReservationPlan | None]:
    """All in-process checks. Returns (outcomes, plan); plan is None when a check failed.

    ``rules``: the order's RuleSet from ``gather_inputs``; replay leaves it out and it is
    compiled from the stored inputs.
    """
    out: list[Outcome] = []
    add = out.append

    if inp["snapshot_age"] > max_snapshot_age:
        add(
            _gate_outcome(
                "snapshot_fresh",
                "SNAPSHOT_STALE",
                "The gate's risk snapshot is older than its bound",
                round(inp["snapshot_age"], 3),
                max_snapshot_age,
            )
        )
        return out, None
    if inp["instrument"] is None:
        add(_gate_outcome("instrument_known", "UNKNOWN_INSTRUMENT", f"Unknown instrument {req.instrument_id}"))
    if inp["account"] is None:
        add(_gate_outcome("account_known", "UNKNOWN_ACCOUNT", f"Unknown account {req.account_id}"))
    if out:
        return out, None

    rs = rules if rules is not None else ruleset_from_inputs(req, inp)
    inst = inp["instrument"]
    acct = inp["account"]
    qty = req.quantity
    buy = req.side == "BUY"
    signed = qty if buy else -qty
    pos = inp["position"]
    reducing = pos != 0 and (pos > 0) != buy and qty <= abs(pos)
    iid = req.instrument_id
    failed = False

    # -- kill switch and reduce-only ------------------------------------------
    for scope, target, mode, reason in inp["kill_switches"]:
        label = scope if target is None else f"{scope} {target}"
        if mode == "halt":
            add(_gate_outcome("kill_switch", "KILL_SWITCH_HALTED", f"Kill switch engaged ({label}): {reason}", "halt"))
            failed = True
        elif not reducing:
            add(
                _gate_outcome(
                    "kill_switch",
                    "KILL_SWITCH_REDUCE_ONLY",
                    f"Kill switch reduce-only ({label}): only orders that shrink the position pass",
                    "reduce_only",
                )
            )
            failed = True
        else:
            add(("kill_switch", True, "reduce_only", None, None, None, "", ""))
    if req.reduce_only and not reducing:
        add(
            _gate_outcome(
                "reduce_only",
                "REDUCE_ONLY_WOULD_INCREASE",
                "A reduce-only order must shrink the existing position",
                pos + signed,
                pos,
            )
        )
        failed = True

    # -- instrument rules -------------------------------------------------------
    if not inst["tradable"]:
        add(_gate_outcome("instrument_tradable", "INSTRUMENT_NOT_TRADABLE", f"{iid} is not tradable"))
        failed = True
    lot = inst["lot"]
    off_lot = qty % lot
    if off_lot:
        add(
            _gate_outcome(
                "lot_size",
                "QUANTITY_NOT_LOT_MULTIPLE",
                f"Quantity {qty} is not a multiple of the lot size {lot}",
                qty,
                lot,
            )
        )
        failed = True
    if qty < inst["min_qty"]:
        add(
            _gate_outcome(
                "min_quantity",
                "QUANTITY_BELOW_MIN",
                f"Quantity {qty} is below the instrument minimum {inst['min_qty']}",
                qty,
                inst["min_qty"],
            )
        )
        failed = True
    if inst["max_qty"] is not None and qty > inst["max_qty"]:
        add(
            _gate_outcome(
                "max_quantity",
                "QUANTITY_ABOVE_MAX",
                f"Quantity {qty} is above the instrument maximum {inst['max_qty']}",
                qty,
                inst["max_qty"],
            )
        )
        failed = True
    tick = inst["tick"]
    for label, px in (("price", req.price), ("trigger_price", req.trigger_price)):
        if px is not None and px % tick:
            add(
                _gate_outcome(
                    "tick_size", "PRICE_NOT_ON_TICK", f"{label} {px} is not on the tick size {tick}", px, tick
                )
            )
            failed = True

    # -- prices -------------------------------------------------------------------
    quote = inp["quote"]
    fx = inp["fx"]
    if quote is None:
        add(_gate_outcome("price_available", "NO_PRICE", f"No market price for {iid}"))
        return out, None
    if quote["age"] > max_quote_age:
        add(
            _gate_outcome(
                "price_fresh",
                "PRICE_STALE",
                f"The last price for {iid} is {quote['age']:.0f}s old",
                round(quote["age"], 3),
                max_quote_age,
            )
        )
        return out, None
    if fx is None:
        add(_gate_outcome("fx_rate", "NO_FX_RATE", f"No rate to convert {inst['quote_ccy']} into {acct['base_ccy']}"))
        return out, None
    if not acct["complete"] or acct["equity"] is None:
        add(
            _gate_outcome(
                "valuation",
                "VALUATION_INCOMPLETE",
                "A position or balance of the account cannot be valued (price or FX rate missing)",
            )
        )
        return out, None
    bid, ask, last = quote["bid"], quote["ask"], quote["last"]
    mid = (bid + ask) / 2 if bid and ask else last
    ref = last if last else mid
    order_type = req.order_type
    if order_type == "LIMIT" or order_type == "STOP_LIMIT":
        exec_px = req.price
    elif order_type == "STOP_MARKET":
        exec_px = req.trigger_price
    else:
        exec_px = (ask if buy else bid) or last
    unit_value = inst["multiplier"] * fx  # base-currency value of one unit per unit of price
    notional = qty * exec_px * unit_value
    equity = acct["equity"]

    # -- buying power (always on for orders that add exposure) ---------------------
    # The tightest headroom is what the atomic step checks orders in flight against.
    bp_headroom = None
    if not reducing:
        cash_account = acct["type"] == "cash"
        if cash_account:
            if not buy:
                holdings = pos if pos > 0 else ZERO
                if qty > holdings:
                    add(
                        _gate_outcome(
                            "buying_power",
                            "INSUFFICIENT_HOLDINGS",
                            "A cash account cannot sell more than it holds",
                            qty,
                            holdings,
                        )
                    )
                    failed = True
            free_notional = acct["free_cash"] if buy else None
        else:
            leverage = acct["leverage"]
            free_notional = (equity - acct["gross"] / leverage) * leverage
        if free_notional is not None:
            for rule in (None, *rs.min_free):
                reserve = rule.value if rule is not None else ZERO
                headroom = free_notional - reserve * (1 if cash_account else leverage)
                if bp_headroom is None or headroom < bp_headroom:
                    bp_headroom = headroom
                name = "buying_power" if rule is None else "min_free_balance"
                rule_id = rule.id if rule is not None else None
                version = rule.version if rule is not None else None
                if notional <= headroom:
                    add((name, True, notional, headroom, rule_id, version, "", ""))
                else:
                    add(
                        (
                            name,
                            False,
                            notional,
                            headroom,
                            rule_id,
                            version,
                            "INSUFFICIENT_BUYING_POWER" if rule is None else "MIN_FREE_BALANCE",
                            f"Order notional {notional:.2f} exceeds buying power {headroom:.2f} {acct['base_ccy']}",
                        )
                    )
                    failed = True
    else:
        add(("buying_power", True, ZERO, None, None, None, "", "reduces exposure"))

    lots = int(qty / lot) if not off_lot else 0
    if not reducing:
        items = [
            (
                "buying_power",
                (rs.key_account,),
                _cents_up(notional),
                _cents_down(NO_HEADROOM_LIMIT if bp_headroom is None else bp_headroom),
                CENT,
                "INSUFFICIENT_BUYING_POWER",
                None,
            )
        ]
    else:
        key = rs.key_buys if buy else rs.key_sells
        items = [("reduce_in_flight", (key,), lots, _units_down(abs(pos), lot), lot, "REDUCE_CONFLICT", None)]

    # -- limit-driven checks (one small function per kind, in ledger order) ----------
    mark_unit = mid * unit_value
    exposure = qty * mark_unit  # base-currency exposure the order adds at the mark
    o = OrderJudgement()
    o.req = req
    o.inp = inp
    o.rs = rs
    o.out = out
    o.failed = fails = []
    o.items = items
    o.rates = rates = []
    o.iid = iid
    o.qty = qty
    o.buy = buy
    o.signed = signed
    o.pos = pos
    o.reducing = reducing
    o.lot = lot
    o.lots = lots
    o.notional = notional
    o.exposure = exposure
    o.exposure_cents = _cents_up(exposure) if not reducing else 0
    o.signed_exposure = exposure if buy else -exposure
    o.mark_unit = mark_unit
    o.ref = ref
    o.equity = equity
    o.acct = acct
    o.strat = inp.get("strategy")
    for check, rule, extra in rs.checks:
        check(o, rule, extra)

    if failed or fails:
        return out, None

    increments = rs.open_orders.copy()
    increments[rs.key_buys if buy else rs.key_sells] = lots
    sid = req.strategy_id
    if sid is not None:
        increments[rs.key_strategy_buys if buy else rs.key_strategy_sells] = lots
    if not reducing:
        cents = o.exposure_cents
        increments[rs.key_account] = max(cents, _cents_up(notional))
        increments[rs.key_instrument] = cents
        increments[rs.key_sector] = cents
        if sid is not None:
            increments[rs.key_strategy] = cents
    return out, ReservationPlan(items, rates, increments, lots)


# -- the limit checks: check(o, rule, precomputed) -----------------------------------
def check_max_order_quantity(o: OrderJudgement, rule: LimitRule, _extra) -> None:
    v = rule.value
    if o.qty <= v:
        o.out.append((rule.kind, True, o.qty, v, rule.id, rule.version, "", ""))
    else:
        o.fail(
            (rule.kind, False, o.qty, v, rule.id, rule.version, "ORDER_QUANTITY_LIMIT", f"Quantity {o.qty} exceeds {v}")
        )


def check_max_order_notional(o: OrderJudgement, rule: LimitRule, _extra) -> None:
    v = rule.value
    notional = o.notional
    if notional <= v:
        o.out.append((rule.kind, True, notional, v, rule.id, rule.version, "", ""))
    else:
        message = f"Order notional {notional:.2f} exceeds {v} {o.acct['base_ccy']}"
        o.fail((rule.kind, False, notional, v, rule.id, rule.version, "ORDER_NOTIONAL_LIMIT", message))


def check_price_band(o: OrderJudgement, rule: LimitRule, _extra) -> None:
    v = rule.value
    ref = o.ref
    worst = ZERO
    for px in (o.req.price, o.req.trigger_price):
        if px is not None:
            dev = abs(px - ref) / ref * HUNDRED
            if dev > worst:
                worst = dev
    if worst <= v:
        o.out.append((rule.kind, True, worst, v, rule.id, rule.version, "", ""))
    else:
        message = f"Price is {worst:.4f}% away from the market {ref}; band is {v}%"
        o.fail((rule.kind, False, worst, v, rule.id, rule.version, "PRICE_BAND", message))


def check_position(o: OrderJudgement, rule: LimitRule, extra) -> None:
    """Size (quantity) or notional of the position if the order filled; account-wide or the strategy's own."""
    by_strategy, key_strategy_buys, key_strategy_sells = extra
    v = rule.value
    base_pos = o.inp["strategy_position"] if by_strategy else o.pos
    after = abs(base_pos + o.signed)
    if rule.kind == "max_position_size":
        limit_qty = v
        measured = after
        code = "POSITION_SIZE_LIMIT"
    else:
        limit_qty = v / o.mark_unit
        measured = after * o.mark_unit
        code = "POSITION_NOTIONAL_LIMIT"
    if after <= limit_qty or after < abs(base_pos):
        o.out.append((rule.kind, True, measured, v, rule.id, rule.version, "", ""))
    else:
        message = f"Resulting position {measured} would exceed {v}"
        o.fail((rule.kind, False, measured, v, rule.id, rule.version, code, message))
    if not o.reducing:
        buy = o.buy
        if by_strategy:
            key = key_strategy_buys if buy else key_strategy_sells
        else:
            key = o.rs.key_buys if buy else o.rs.key_sells
        head = limit_qty - base_pos if buy else limit_qty + base_pos
        o.items.append((rule.kind, (key,), o.lots, _units_down(head, o.lot), o.lot, code, rule))


def check_max_leverage(o: OrderJudgement, rule: LimitRule, _extra) -> None:
    v = rule.value
    equity = o.equity
    reducing = o.reducing
    gross = o.acct["gross"]
    if equity > 0:
        after = (gross + (ZERO if reducing else o.exposure)) / equity
        ok = reducing or after <= v
    else:
        after, ok = None, reducing
    if ok:
        o.out.append((rule.kind, True, after, v, rule.id, rule.version, "", ""))
    else:
        message = f"Gross leverage would be {after} > {v}"
        o.fail((rule.kind, False, after, v, rule.id, rule.version, "LEVERAGE_LIMIT", message))
    if not reducing and equity > 0:
        head = _cents_down(v * equity - gross)
        o.items.append((rule.kind, (o.rs.key_account,), o.exposure_cents, head, CENT, "LEVERAGE_LIMIT", rule))


def check_daily_loss(o: OrderJudgement, rule: LimitRule, _extra) -> None:
    v = rule.value
    strat = o.strat
    if rule.scope == "strategy" and strat is not None:
        pnl = strat["pnl"]
    else:
        pnl = o.equity - o.acct["session_start_equity"]
    loss = -pnl if pnl < 0 else ZERO
    if o.reducing or loss <= v:
        o.out.append((rule.kind, True, loss, v, rule.id, rule.version, "", ""))
    else:
        message = f"Daily loss {loss:.2f} exceeds {v}"
        o.fail((rule.kind, False, loss, v, rule.id, rule.version, "DAILY_LOSS_LIMIT", message))


def check_max_drawdown(o: OrderJudgement, rule: LimitRule, _extra) -> None:
    v = rule.value
    equity = o.equity
    peak = max(o.acct["peak_equity"], equity)
    dd = (peak - equity) / peak * HUNDRED if peak > 0 else HUNDRED
    if o.reducing or dd <= v:
        o.out.append((rule.kind, True, dd, v, rule.id, rule.version, "", ""))
    else:
        message = f"Drawdown {dd:.4f}% exceeds {v}%"
        o.fail((rule.kind, False, dd, v, rule.id, rule.version, "DRAWDOWN_LIMIT", message))


def check_correlation(o: OrderJudgement, rule: LimitRule, keys: tuple[str, ...]) -> None:
    """Gross exposure to the order's correlated group (or adopted cluster) if the order filled."""
    v = rule.value
    grp = o.inp["correlation"][str(rule.id)]
    gross = grp["gross"]
    cur = o.inp["inst_notional"]
    after = gross - abs(cur) + abs(cur + o.signed_exposure)
    if after <= v or after <= gross:
        o.out.append((rule.kind, True, after, v, rule.id, rule.version, "", ""))
    else:
        message = f"Exposure to correlated group {grp['group']} would be {after:.2f} > {v}"
        o.fail((rule.kind, False, after, v, rule.id, rule.version, "CORRELATION_LIMIT", message))
    if not o.reducing:
        o.items.append((rule.kind, keys, o.exposure_cents, _cents_down(v - gross), CENT, "CORRELATION_LIMIT", rule))


def check_sector_gross(o: OrderJudgement, rule: LimitRule, _extra) -> None:
    v = rule.value
    equity = o.equity
    sg = o.inp["sector_gross"]
    cur = o.inp["inst_notional"]
    after = sg - abs(cur) + abs(cur + o.signed_exposure)
    pct = after / equity * HUNDRED if equity > 0 else None
    if after <= sg or (pct is not None and pct <= v):
        o.out.append((rule.kind, True, pct, v, rule.id, rule.version, "", ""))
    else:
        message = f"Sector gross exposure would be {pct}% > {v}%"
        o.fail((rule.kind, False, pct, v, rule.id, rule.version, "SECTOR_GROSS_LIMIT", message))
    if not o.reducing and equity > 0:
        head = _cents_down(v / HUNDRED * equity - sg)
        o.items.append((rule.kind, (o.rs.key_sector,), o.exposure_cents, head, CENT, "SECTOR_GROSS_LIMIT", rule))


def check_sector_net(o: OrderJudgement, rule: LimitRule, _extra) -> None:
    v = rule.value
    equity = o.equity
    before = o.inp["sector_net"]
    after = before + o.signed_exposure
    pct = abs(after) / equity * HUNDRED if equity > 0 else None
    if abs(after) <= abs(before) or (pct is not None and pct <= v):
        o.out.append((rule.kind, True, pct, v, rule.id, rule.version, "", ""))
    else:
        message = f"Sector net exposure would be {pct}% > {v}%"
        o.fail((rule.kind, False, pct, v, rule.id, rule.version, "SECTOR_NET_LIMIT", message))


def check_risk_budget(o: OrderJudgement, rule: LimitRule, _extra) -> None:
    strat = o.strat
    if strat is None:
        return
    v = rule.value
    reducing = o.reducing
    pnl = strat["pnl"]
    loss = -pnl if pnl < 0 else ZERO
    consumed = strat["gross"] + (ZERO if reducing else o.exposure) + loss
    if reducing or consumed <= v:
        o.out.append((rule.kind, True, consumed, v, rule.id, rule.version, "", ""))
    else:
        message = f"Strategy risk budget use would be {consumed:.2f} > {v}"
        o.fail((rule.kind, False, consumed, v, rule.id, rule.version, "RISK_BUDGET_LIMIT", message))
    if not reducing:
        head = _cents_down(v - consumed + o.exposure)
        o.items.append((rule.kind, (o.rs.key_strategy,), o.exposure_cents, head, CENT, "RISK_BUDGET_LIMIT", rule))


def _instrument_list_outcome(rule: LimitRule, iid: str) -> Outcome:
    """An allowed/blocked list's verdict depends on the instrument alone: decided once per RuleSet."""
    params = rule.params
    if iid in (params.get("blocked") or ()):
        return (
            rule.kind,
            False,
            iid,
            None,
            rule.id,
            rule.version,
            "INSTRUMENT_BLOCKED",
            f"{iid} is on the blocked list",
        )
    if params.get("allowed") and iid not in params["allowed"]:
        message = f"{iid} is not on the allowed list"
        return (rule.kind, False, iid, None, rule.id, rule.version, "INSTRUMENT_NOT_ALLOWED", message)
    return (rule.kind, True, iid, None, rule.id, rule.version, "", "")


def check_instrument_list(o: OrderJudgement, _rule: LimitRule, outcome: Outcome) -> None:
    if outcome[1]:
        o.out.append(outcome)
    else:
        o.fail(outcome)


def check_max_open_orders(o: OrderJudgement, _rule: LimitRule, item: tuple) -> None:
    # Counted across processes: only the atomic step can decide.
    o.items.append(item)


def check_order_rate(o: OrderJudgement, _rule: LimitRule, rate: tuple) -> None:
    o.rates.append(rate)


CHECKS: dict[str, Callable[[OrderJudgement, LimitRule, Any], None]] = {
    "max_order_quantity": check_max_order_quantity,
    "max_order_notional": check_max_order_notional,
    "price_band_pct": check_price_band,
    "max_position_size": check_position,
    "max_position_notional": check_position,
    "max_leverage": check_max_leverage,
    "daily_loss": check_daily_loss,
    "max_drawdown_pct": check_max_drawdown,
    "correlation_exposure": check_correlation,
    "sector_gross_pct": check_sector_gross,
    "sector_net_pct": check_sector_net,
    "risk_budget": check_risk_budget,
    "instrument_list": check_instrument_list,
    "max_open_orders": check_max_open_orders,
    "order_rate": check_order_rate,
    # min_free_balance is judged with buying power, before these.
}


def evaluate_reservation(plan: ReservationPlan, seen: list[int]) -> list[Outcome]:
    """Outcomes from the counters the atomic script saw (items first, then rates)."""
    out = []
    n = len(plan.items)
    for (name, _keys, amount, headroom, scale, code, rule), cur in zip(plan.items, seen[:n], strict=True):
        total = cur + amount
        passed = total <= headroom
        message = (
            ""
            if passed
            else f"With orders in flight in every process ({cur * scale}) this order "
            f"({amount * scale}) would exceed {headroom * scale}"
        )
        out.append(
            (
                f"{name}:in_flight",
                passed,
                total * scale,
                headroom * scale,
                rule.id if rule else None,
                rule.version if rule else None,
                "" if passed else code,
                message,
            )
        )
    for (name, _key, window_ms, limit, rule), count in zip(plan.rates, seen[n:], strict=True):
        passed = count + 1 <= limit
        message = "" if passed else f"{count + 1} orders in {window_ms // 1000}s exceeds {limit}"
        out.append(
            (name, passed, count + 1, limit, rule.id, rule.version, "" if passed else "ORDER_RATE_LIMIT", message)
        )
    return out
