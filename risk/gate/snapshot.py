"""The gate's in-memory picture of the desk: everything a check reads, no I/O.

``snapshot_build(data)`` turns plain records (from the loader, or built in memory
by a benchmark) into a ``GateSnapshot`` with the aggregates the checks need
precomputed: per-account equity, gross exposure, per-sector gross/net exposure and
per-instrument notional, per-strategy exposure and P&L — all in the account's base
currency, as Decimals.

Concurrency: the hot path never locks. A full refresh builds a new snapshot and
swaps the reference; an incremental update (one position, one balance, one kill
switch) replaces whole dict entries and whole per-account objects, which is
atomic under the GIL, so a check sees either the old or the new account state,
never half of one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(slots=True, frozen=True)
class LimitRule:
    id: int
    version: int
    kind: str
    value: Decimal
    currency: str
    window_seconds: int | None
    params: dict
    scope: str
    target: Any  # account id, strategy id, instrument id (str), sector id, or None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "kind": self.kind,
            "value": str(self.value),
            "currency": self.currency,
            "window_seconds": self.window_seconds,
            "params": self.params,
            "scope": self.scope,
            "target": self.target,
        }


@dataclass(slots=True, frozen=True)
class InstrumentInfo:
    pk: int
    instrument_id: str
    sector_id: int
    asset_class: str
    tradable: bool
    tick: Decimal
    lot: Decimal
    min_qty: Decimal
    max_qty: Decimal | None
    multiplier: Decimal
    base_ccy: str
    quote_ccy: str


@dataclass(slots=True, frozen=True)
class AccountInfo:
    id: int
    base_ccy: str
    account_type: str  # cash | margin
    leverage: Decimal
    starting_balance: Decimal
    session_start_equity: Decimal
    peak_equity: Decimal


@dataclass(slots=True, frozen=True)
class AccountState:
    """Derived from positions, balances and prices; replaced whole on any change."""

    equity: Decimal
    cash: Decimal  # total cash in base currency
    free_cash: Decimal  # cash minus locked, in base currency
    unrealized: Decimal
    gross: Decimal
    sector_gross: dict[int, Decimal]
    sector_net: dict[int, Decimal]
    inst_notional: dict[str, Decimal]  # signed, base currency
    complete: bool  # False when a position or balance could not be valued (no price / no FX rate)
    judged: dict[str, Any]  # the account as a decision's input snapshot shows it (built once; read-only)
    # Per-order work that depends on this state alone, memoised until the state is replaced
    # (e.g. a correlation group's gross exposure, keyed by (limit id, instrument)).
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(slots=True, frozen=True)
class StrategyState:
    gross: Decimal
    pnl: Decimal
    judged: dict[str, Decimal]  # {"gross", "pnl"} as a decision's input snapshot shows it (read-only)


@dataclass
class GateSnapshot:
    built_at: float  # epoch seconds of the last full load
    limits_by_scope: dict[tuple, list[LimitRule]]
    limits: dict[int, LimitRule]
    instruments: dict[str, InstrumentInfo]
    instruments_by_pk: dict[int, str]
    accounts: dict[int, AccountInfo]
    balances: dict[int, dict[str, tuple[Decimal, Decimal]]]  # account -> ccy -> (total, locked)
    # (account, instrument_id, strategy|None) -> (quantity, avg_price, realized_pnl)
    positions: dict[tuple[int, str, int | None], tuple[Decimal, Decimal, Decimal]]
    net_position: dict[tuple[int, str], Decimal]  # account-level net quantity
    strategy_position: dict[tuple[int, str], Decimal]  # (strategy, instrument) net quantity
    quotes: dict[str, tuple[Decimal, Decimal, Decimal | None, int]]  # bid, ask, last, ts_ns
    kill_switches: dict[tuple[str, Any], tuple[str, str]]  # (scope, target) -> (mode, reason)
    correlations: dict[str, dict[str, float]]
    account_state: dict[int, AccountState] = field(default_factory=dict)
    strategy_state: dict[int, StrategyState] = field(default_factory=dict)
    fx: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    groups: dict[tuple[str, float], list[str]] = field(default_factory=dict)
    # (account, strategy, instrument) -> risk.gate.checks.RuleSet, compiled on first use
    limit_cache: dict[tuple, Any] = field(default_factory=dict)
    # instrument id -> the instrument as a decision's input snapshot shows it (built once; read-only)
    instrument_inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    updated_at: float = 0.0  # epoch seconds of the last incremental update

    @property
    def age(self) -> float:
        return time.time() - self.built_at

    # -- prices ---------------------------------------------------------------
    def mark(self, instrument_id: str) -> Decimal | None:
        q = self.quotes.get(instrument_id)
        if q is None:
            return None
        bid, ask, last, _ = q
        return (bid + ask) / 2 if bid and ask else last

    def correlated_group(self, instrument_id: str, threshold: float) -> list[str]:
        """The instrument and those whose return correlation with it is at least ``threshold`` (memoised:
        correlations only change with a full reload, which builds a new snapshot)."""
        key = (instrument_id, threshold)
        group = self.groups.get(key)
        if group is None:
            others = self.correlations.get(instrument_id, {})
            group = [instrument_id, *sorted(j for j, rho in others.items() if rho >= threshold and j != instrument_id)]
            self.groups[key] = group
        return group

    def fx_rate(self, src: str, dst: str) -> Decimal | None:
        if src == dst:
            return ONE
        return self.fx.get((src, dst))

    # -- derived state ----------------------------------------------------------
    def recompute_account(self, account_id: int) -> None:
        info = self.accounts.get(account_id)
        if info is None:
            return
        base = info.base_ccy
        complete = True
        cash = ZERO
        free = ZERO
        for ccy, (total, locked) in self.balances.get(account_id, {}).items():
            rate = self.fx_rate(ccy, base)
            if rate is None:
                complete = False
                continue
            cash += total * rate
            free += (total - locked) * rate
        unrealized = ZERO
        holdings = ZERO
        gross = ZERO
        sector_gross: dict[int, Decimal] = {}
        sector_net: dict[int, Decimal] = {}
        inst_notional: dict[str, Decimal] = {}
        for (acc, iid), qty in self.net_position.items():
            if acc != account_id or not qty:
                continue
            inst = self.instruments.get(iid)
            mark = self.mark(iid)
            rate = self.fx_rate(inst.quote_ccy, base) if inst else None
            if inst is None or mark is None or rate is None:
                complete = False
                continue
            notional = qty * mark * inst.multiplier * rate
            inst_notional[iid] = notional
            gross += abs(notional)
            sector_gross[inst.sector_id] = sector_gross.get(inst.sector_id, ZERO) + abs(notional)
            sector_net[inst.sector_id] = sector_net.get(inst.sector_id, ZERO) + notional
            holdings += notional
        for (acc, iid, _strategy), (qty, avg, _realized) in self.positions.items():
            if acc != account_id or not qty:
                continue
            inst = self.instruments.get(iid)
            mark = self.mark(iid)
            rate = self.fx_rate(inst.quote_ccy, base) if inst else None
            if inst is None or mark is None or rate is None:
                continue
            unrealized += (mark - avg) * qty * inst.multiplier * rate
        # Margin accounts hold cash plus open P&L; cash accounts hold cash plus what they bought.
        equity = cash + (holdings if info.account_type == "cash" else unrealized)
        self.account_state[account_id] = AccountState(
            equity=equity,
            cash=cash,
            free_cash=free,
            unrealized=unrealized,
            gross=gross,
            sector_gross=sector_gross,
            sector_net=sector_net,
            inst_notional=inst_notional,
            complete=complete,
            judged=account_judged(info, equity=equity, free_cash=free, gross=gross, complete=complete),
        )

    def account_inputs_without_state(self, account_id: int) -> dict[str, Any]:
        """An account no state was computed for: nothing about it can be valued."""
        return account_judged(self.accounts[account_id], equity=None, free_cash=None, gross=None, complete=False)

    def recompute_strategy(self, strategy_id: int) -> None:
        gross = ZERO
        pnl = ZERO
        for (acc, iid, sid), (qty, avg, realized) in self.positions.items():
            if sid != strategy_id:
                continue
            pnl_part = realized
            info = self.accounts.get(acc)
            inst = self.instruments.get(iid)
            mark = self.mark(iid)
            rate = self.fx_rate(inst.quote_ccy, info.base_ccy) if inst and info else None
            if qty and inst is not None and mark is not None and rate is not None:
                gross += abs(qty * mark * inst.multiplier * rate)
                pnl_part += (mark - avg) * qty * inst.multiplier
            if rate is not None:
                pnl += pnl_part * rate
        self.strategy_state[strategy_id] = StrategyState(gross=gross, pnl=pnl, judged={"gross": gross, "pnl": pnl})

    def recompute_all(self) -> None:
        self.fx = fx_table(self.instruments, self.quotes)
        for account_id in self.accounts:
            self.recompute_account(account_id)
        for sid in {sid for (_a, _i, sid) in self.positions if sid is not None}:
            self.recompute_strategy(sid)

    # -- incremental updates (from the gate channel) -------------------------
    def apply_position(
        self,
        *,
        account: int,
        instrument_id: str,
        strategy: int | None,
        quantity: Decimal,
        avg_price: Decimal,
        realized_pnl: Decimal,
    ) -> None:
        old = self.positions.get((account, instrument_id, strategy))
        old_qty = old[0] if old else ZERO
        self.positions[(account, instrument_id, strategy)] = (quantity, avg_price, realized_pnl)
        key = (account, instrument_id)
        self.net_position[key] = self.net_position.get(key, ZERO) - old_qty + quantity
        if strategy is not None:
            skey = (strategy, instrument_id)
            self.strategy_position[skey] = self.strategy_position.get(skey, ZERO) - old_qty + quantity
            self.recompute_strategy(strategy)
        self.recompute_account(account)
        self.updated_at = time.time()

    def apply_balance(self, *, account: int, currency: str, total: Decimal, locked: Decimal) -> None:
        balances = dict(self.balances.get(account, {}))
        balances[currency] = (total, locked)
        self.balances[account] = balances
        self.recompute_account(account)
        self.updated_at = time.time()

    def apply_kill_switch(self, *, scope: str, target: Any, engaged: bool, mode: str, reason: str) -> None:
        key = (scope, target)
        if engaged:
            self.kill_switches[key] = (mode, reason)
        else:
            self.kill_switches.pop(key, None)
        self.updated_at = time.time()


def account_judged(
    info: AccountInfo, *, equity: Decimal | None, free_cash: Decimal | None, gross: Decimal | None, complete: bool
) -> dict[str, Any]:
    return {
        "base_ccy": info.base_ccy,
        "type": info.account_type,
        "leverage": info.leverage,
        "equity": equity,
        "free_cash": free_cash,
        "gross": gross,
        "complete": complete,
        "session_start_equity": info.session_start_equity,
        "peak_equity": info.peak_equity,
    }


def instrument_judged(inst: InstrumentInfo) -> dict[str, Any]:
    return {
        "sector": inst.sector_id,
        "tradable": inst.tradable,
        "tick": inst.tick,
        "lot": inst.lot,
        "min_qty": inst.min_qty,
        "max_qty": inst.max_qty,
        "multiplier": inst.multiplier,
        "quote_ccy": inst.quote_ccy,
    }


def fx_table(instruments: dict[str, InstrumentInfo], quotes: dict) -> dict[tuple[str, str], Decimal]:
    """Conversion rates from the FX pairs' mids, direct, inverse and one hop through USD."""
    direct: dict[tuple[str, str], Decimal] = {}
    for iid, inst in instruments.items():
        if inst.asset_class != "fx" or not inst.base_ccy:
            continue
        q = quotes.get(iid)
        if q is None:
            continue
        bid, ask, last, _ = q
        mid = (bid + ask) / 2 if bid and ask else last
        if not mid:
            continue
        direct[(inst.base_ccy, inst.quote_ccy)] = mid
        direct[(inst.quote_ccy, inst.base_ccy)] = ONE / mid
    table = dict(direct)
    currencies = {c for pair in direct for c in pair}
    for a in currencies:
        for c in currencies:
            if a != c and (a, c) not in table and (a, "USD") in direct and ("USD", c) in direct:
                table[(a, c)] = direct[(a, "USD")] * direct[("USD", c)]
    return table


def snapshot_build(data: dict[str, Any], *, built_at: float | None = None) -> GateSnapshot:
    """``data``: plain records, see ``risk.gate.loader.snapshot_data_load`` for the shape."""
    limits: dict[int, LimitRule] = {}
    by_scope: dict[tuple, list[LimitRule]] = {}
    for raw in data["limits"]:
        rule = LimitRule(**raw)
        limits[rule.id] = rule
        key = ("global",) if rule.scope == "global" else (rule.scope, rule.target)
        by_scope.setdefault(key, []).append(rule)
    instruments = {i["instrument_id"]: InstrumentInfo(**i) for i in data["instruments"]}
    accounts = {a["id"]: AccountInfo(**a) for a in data["accounts"]}
    balances: dict[int, dict[str, tuple[Decimal, Decimal]]] = {}
    for b in data["balances"]:
        balances.setdefault(b["account"], {})[b["currency"]] = (b["total"], b["locked"])
    for acc in accounts.values():
        # An account the book has no cash rows for yet starts from its funding.
        balances.setdefault(acc.id, {acc.base_ccy: (acc.starting_balance, ZERO)})
    positions: dict[tuple[int, str, int | None], tuple[Decimal, Decimal, Decimal]] = {}
    net: dict[tuple[int, str], Decimal] = {}
    spos: dict[tuple[int, str], Decimal] = {}
    for p in data["positions"]:
        key = (p["account"], p["instrument_id"], p["strategy"])
        positions[key] = (p["quantity"], p["avg_price"], p["realized_pnl"])
        nkey = (p["account"], p["instrument_id"])
        net[nkey] = net.get(nkey, ZERO) + p["quantity"]
        if p["strategy"] is not None:
            skey = (p["strategy"], p["instrument_id"])
            spos[skey] = spos.get(skey, ZERO) + p["quantity"]
    snap = GateSnapshot(
        built_at=built_at if built_at is not None else time.time(),
        limits_by_scope=by_scope,
        limits=limits,
        instruments=instruments,
        instruments_by_pk={i.pk: i.instrument_id for i in instruments.values()},
        accounts=accounts,
        balances=balances,
        positions=positions,
        net_position=net,
        strategy_position=spos,
        quotes=dict(data["quotes"]),
        kill_switches={(k["scope"], k["target"]): (k["mode"], k["reason"]) for k in data["kill_switches"]},
        correlations=data.get("correlations") or {},
        instrument_inputs={iid: instrument_judged(i) for iid, i in instruments.items()},
    )
    snap.recompute_all()
    snap.updated_at = snap.built_at
    return snap
