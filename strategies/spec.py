"""Our strategy spec, version 1: its fields, per-type parameters, and every validation rule.

A spec is the JSON a ``StrategyVersion`` stores (docs/strategies.md explains it,
docs/strategy-spec.schema.json is generated from the tables here by
``spec_json_schema()``). Validation never stops at the first problem: it returns
every one, each with the path of the offending field
(``parameters.fast_ema_period: must be an integer between 2 and 500``).

Shape rules need nothing but the spec; context rules read the database
(instruments, the account and its venue, global risk limits, the allocations of
the account's other running strategies). This module stays free of Nautilus so
the web process can validate without loading the engine; the checks that need
the engine (importing a custom strategy's classes) live in
``strategies.translation``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

SPEC_VERSION = 1
BUILTIN_TYPES = ("mean_reversion", "ema_cross", "breakout", "market_maker")
TYPES = (*BUILTIN_TYPES, "custom")
TICK = "tick"
BAR_UNITS = ("SECOND", "MINUTE", "HOUR", "DAY")
BAR_PRICES = ("BID", "ASK", "MID", "LAST")
BAR_SPEC_RE = re.compile(r"^([1-9][0-9]{0,5})-(SECOND|MINUTE|HOUR|DAY)-(BID|ASK|MID|LAST)$")
IMPORT_PATH_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")
MAX_AMOUNT = Decimal("1000000000000")  # 1e12 in any currency or quantity: larger is a typo
NAME_MAX = 128

TOP_LEVEL_FIELDS = (
    "spec_version",
    "name",
    "type",
    "description",
    "instruments",
    "bar_spec",
    "parameters",
    "risk",
    "allocation",
    "account",
    "strategy_path",
    "config_path",
    "config",
)
CUSTOM_ONLY_FIELDS = ("strategy_path", "config_path", "config")


@dataclass(frozen=True)
class Param:
    """One declared parameter: type and inclusive range (``exclusive_min`` for sizes)."""

    name: str
    kind: str  # "integer" | "decimal"
    minimum: Decimal
    maximum: Decimal
    description: str
    required: bool = True
    default: Any = None
    exclusive_min: bool = False

    def range_text(self) -> str:
        noun = "an integer" if self.kind == "integer" else "a decimal (string)"
        if self.exclusive_min:
            return f"must be {noun} greater than {self.minimum} and at most {self.maximum}"
        return f"must be {noun} between {self.minimum} and {self.maximum}"


def _size(name: str, description: str) -> Param:
    return Param(name, "decimal", Decimal(0), MAX_AMOUNT, description, exclusive_min=True)


TRADE_SIZE = _size("trade_size", "Quantity of one entry (one quote for the market maker), in instrument units.")

PARAMETERS: dict[str, tuple[Param, ...]] = {
    "ema_cross": (
        Param("fast_ema_period", "integer", Decimal(2), Decimal(500), "Bars in the fast EMA."),
        Param("slow_ema_period", "integer", Decimal(3), Decimal(2000), "Bars in the slow EMA (longer than fast)."),
        TRADE_SIZE,
    ),
    "mean_reversion": (
        Param("bb_period", "integer", Decimal(2), Decimal(1000), "Bars in the rolling mean and standard deviation."),
        Param("bb_std", "decimal", Decimal("0.1"), Decimal(10), "Entry threshold in standard deviations (z-score)."),
        Param(
            "exit_std",
            "decimal",
            Decimal(0),
            Decimal(10),
            "Exit when back within this many standard deviations.",
            required=False,
            default="0",
        ),
        Param(
            "rsi_period",
            "integer",
            Decimal(2),
            Decimal(500),
            "RSI filter length (omit to trade without it).",
            required=False,
        ),
        Param(
            "rsi_buy",
            "integer",
            Decimal(0),
            Decimal(100),
            "Buy only when RSI is at or below this.",
            required=False,
            default=30,
        ),
        Param(
            "rsi_sell",
            "integer",
            Decimal(0),
            Decimal(100),
            "Sell only when RSI is at or above this.",
            required=False,
            default=70,
        ),
        TRADE_SIZE,
    ),
    "breakout": (
        Param("lookback_bars", "integer", Decimal(2), Decimal(1000), "Bars in the Donchian channel."),
        Param("atr_period", "integer", Decimal(2), Decimal(500), "Bars in the ATR of the trailing stop."),
        Param("atr_stop_multiple", "decimal", Decimal("0.1"), Decimal(20), "Trailing stop distance in ATRs."),
        TRADE_SIZE,
    ),
    "market_maker": (
        Param("spread_bps", "decimal", Decimal("0.1"), Decimal(1000), "Bid-ask distance in basis points of mid."),
        _size("max_inventory", "Inventory at which the quote skew is full (at most risk.max_position)."),
        Param(
            "skew_bps",
            "decimal",
            Decimal(0),
            Decimal(1000),
            "Quote shift at full inventory (default: half the spread).",
            required=False,
        ),
        Param("refresh_seconds", "integer", Decimal(1), Decimal(3600), "Seconds between re-quotes."),
        TRADE_SIZE,
    ),
}

RISK_FIELDS = (
    _size("max_position", "Largest absolute net position, in instrument units; the strategy never exceeds it."),
    _size("risk_budget", "Loss budget in the account's currency; exhausted, the strategy flattens and stops."),
    Param(
        "live_drift_bound",
        "decimal",
        Decimal(0),
        Decimal(100),
        "Deploy to Live: how far, in percentage points of the allocation, the simulated return may drift "
        "from the backtest's over the same period (omit for the desk's default).",
        required=False,
        exclusive_min=True,
    ),
)


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass
class ValidationResult:
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def messages(self) -> list[str]:
        return [str(p) for p in self.problems]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [{"path": p.path, "message": p.message} for p in self.problems]}


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


def plain(number: Decimal) -> str:
    """1000000.00 → "1000000" (never "1E+6") for messages."""
    text = format(number.normalize(), "f")
    return text


def parse_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a string or an integer; floats are refused (inexact)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _check_param(result: ValidationResult, path: str, param: Param, value: Any) -> Decimal | int | None:
    if param.kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        number = Decimal(value) if ok else None
    else:
        number = parse_decimal(value)
    in_range = number is not None and (
        (number > param.minimum if param.exclusive_min else number >= param.minimum) and number <= param.maximum
    )
    if not in_range:
        result.add(path, param.range_text())
        return None
    return int(number) if param.kind == "integer" else number


def bar_spec_problem(value: Any, spec_type: Any) -> str | None:
    if value == TICK:
        if spec_type in ("market_maker", "custom"):
            return None
        return "tick data is only for market_maker and custom strategies; use a bar spec such as 1-MINUTE-MID"
    if not isinstance(value, str) or not BAR_SPEC_RE.match(value):
        return (
            'must be "tick" or STEP-UNIT-PRICE such as "1-MINUTE-MID" '
            "(unit SECOND/MINUTE/HOUR/DAY, price BID/ASK/MID/LAST)"
        )
    return None


# ---------------------------------------------------------------------------
# Shape (no database)
# ---------------------------------------------------------------------------


def spec_shape_problems(spec: Any, result: ValidationResult | None = None) -> ValidationResult:
    result = result if result is not None else ValidationResult()
    if not isinstance(spec, dict):
        result.add("", "a strategy spec must be a JSON object")
        return result
    for key in spec:
        if key not in TOP_LEVEL_FIELDS:
            result.add(str(key), "unknown field")
    if spec.get("spec_version") != SPEC_VERSION:
        result.add("spec_version", f"must be {SPEC_VERSION} (the spec format version)")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
        result.add("name", f"must be a non-empty string of at most {NAME_MAX} characters")
    if "description" in spec and not isinstance(spec["description"], str):
        result.add("description", "must be a string")
    spec_type = spec.get("type")
    if spec_type not in TYPES:
        result.add("type", f"must be one of {', '.join(TYPES)}")

    instruments = spec.get("instruments")
    if not isinstance(instruments, list) or not instruments:
        result.add("instruments", 'must be a non-empty list of instrument ids such as "EUR/USD.SIM"')
    else:
        for i, instrument in enumerate(instruments):
            if not isinstance(instrument, str) or "." not in instrument:
                result.add(f"instruments[{i}]", 'must be an instrument id such as "EUR/USD.SIM"')
        if len(set(map(str, instruments))) != len(instruments):
            result.add("instruments", "lists an instrument twice")
        if spec_type in BUILTIN_TYPES and len(instruments) != 1:
            result.add("instruments", f"a {spec_type} strategy trades exactly one instrument")

    problem = bar_spec_problem(spec.get("bar_spec"), spec_type)
    if problem:
        result.add("bar_spec", problem)

    _risk_shape(spec.get("risk"), result)
    if parse_decimal(spec.get("allocation")) is None or not (
        Decimal(0) < parse_decimal(spec["allocation"]) <= MAX_AMOUNT
    ):
        result.add(
            "allocation",
            f"must be a decimal (string) greater than 0 and at most {MAX_AMOUNT}: capital in the account's currency",
        )
    account = spec.get("account")
    if not isinstance(account, str) or not account.strip():
        result.add("account", 'must be the name of an account, such as "SIM-001"')

    if spec_type == "custom":
        _custom_shape(spec, result)
    elif spec_type in BUILTIN_TYPES:
        for key in CUSTOM_ONLY_FIELDS:
            if key in spec:
                result.add(key, "only custom strategies take an import path and a raw config")
        _parameters_shape(spec_type, spec.get("parameters"), spec.get("risk"), result)
    return result


def _risk_shape(risk: Any, result: ValidationResult) -> None:
    if not isinstance(risk, dict):
        result.add("risk", "must be an object with max_position and risk_budget")
        return
    known = {p.name for p in RISK_FIELDS}
    for key in risk:
        if key not in known:
            result.add(f"risk.{key}", "unknown field")
    for param in RISK_FIELDS:
        if param.name not in risk:
            if param.required:
                result.add(f"risk.{param.name}", "is required")
        else:
            _check_param(result, f"risk.{param.name}", param, risk[param.name])


def _parameters_shape(spec_type: str, parameters: Any, risk: Any, result: ValidationResult) -> None:
    if not isinstance(parameters, dict):
        result.add("parameters", "must be an object")
        return
    declared = {p.name: p for p in PARAMETERS[spec_type]}
    for key in parameters:
        if key not in declared:
            result.add(f"parameters.{key}", f"is not a parameter of {spec_type} (expected {', '.join(declared)})")
    values: dict[str, Any] = {}
    for param in declared.values():
        if param.name not in parameters:
            if param.required:
                result.add(f"parameters.{param.name}", f"is required ({param.range_text().removeprefix('must be ')})")
            continue
        values[param.name] = _check_param(result, f"parameters.{param.name}", param, parameters[param.name])
    _cross_parameter_rules(spec_type, values, risk, result)


def _cross_parameter_rules(spec_type: str, values: dict[str, Any], risk: Any, result: ValidationResult) -> None:
    def both(a: str, b: str) -> bool:
        return values.get(a) is not None and values.get(b) is not None

    if spec_type == "ema_cross" and both("fast_ema_period", "slow_ema_period"):
        if values["fast_ema_period"] >= values["slow_ema_period"]:
            result.add("parameters.fast_ema_period", "must be less than slow_ema_period")
    if spec_type == "mean_reversion":
        if both("rsi_buy", "rsi_sell") and values["rsi_buy"] >= values["rsi_sell"]:
            result.add("parameters.rsi_buy", "must be less than rsi_sell")
        if both("exit_std", "bb_std") and values["exit_std"] >= values["bb_std"]:
            result.add("parameters.exit_std", "must be less than bb_std")
    max_position = parse_decimal(risk.get("max_position")) if isinstance(risk, dict) else None
    if max_position is not None and max_position > 0:
        size = values.get("trade_size")
        if size is not None and size > max_position:
            result.add("parameters.trade_size", f"must not exceed risk.max_position ({max_position})")
        inventory = values.get("max_inventory")
        if inventory is not None and inventory > max_position:
            result.add("parameters.max_inventory", f"must not exceed risk.max_position ({max_position})")


def _custom_shape(spec: dict, result: ValidationResult) -> None:
    for key in ("strategy_path", "config_path"):
        value = spec.get(key)
        if not isinstance(value, str) or not IMPORT_PATH_RE.match(value):
            result.add(key, 'must be an import path such as "package.module:ClassName"')
    if not isinstance(spec.get("config"), dict):
        result.add("config", "must be an object: the Nautilus strategy config as JSON primitives")
    elif "strategy_id" in spec["config"]:
        result.add("config.strategy_id", "must not be set; the desk derives the id from order_id_tag")
    if spec.get("parameters") not in (None, {}):
        result.add("parameters", "custom strategies take their settings in config, not parameters")


# ---------------------------------------------------------------------------
# Context (database)
# ---------------------------------------------------------------------------


def spec_context_problems(spec: dict, result: ValidationResult, *, strategy_id: int | None = None) -> ValidationResult:
    """Instruments, account, global risk limits and allocation against the database.

    ``strategy_id`` names the strategy being edited, so its own running
    allocation is not counted twice.
    """
    from trading.models import Account, Instrument

    account = None
    if isinstance(spec.get("account"), str):
        account = Account.objects.select_related("venue").filter(name=spec["account"]).first()
        if account is None:
            result.add("account", f"unknown account {spec['account']!r}")
        elif account.status == Account.Status.DISABLED:
            result.add("account", f"account {account.name} is disabled")

    instruments: list = []
    if isinstance(spec.get("instruments"), list):
        ids = [i for i in spec["instruments"] if isinstance(i, str)]
        rows = {
            row.instrument_id: row for row in Instrument.objects.select_related("venue").filter(instrument_id__in=ids)
        }
        for i, instrument_id in enumerate(spec["instruments"]):
            if not isinstance(instrument_id, str):
                continue
            row = rows.get(instrument_id)
            if row is None:
                result.add(f"instruments[{i}]", f"unknown instrument {instrument_id!r}")
                continue
            instruments.append(row)
            if not row.tradable:
                result.add(f"instruments[{i}]", f"{instrument_id} is not tradable")
            if account is not None and row.venue_id != account.venue_id:
                result.add(
                    f"instruments[{i}]",
                    f"{instrument_id} trades on {row.venue.code}, not on {account.venue.code} "
                    f"(the venue of account {account.name})",
                )

    _lot_rules(spec, instruments, result)
    _global_limit_rules(spec, instruments, account, result)
    if account is not None:
        _allocation_rules(spec, account, result, strategy_id=strategy_id)
    return result


def _lot_rules(spec: dict, instruments: list, result: ValidationResult) -> None:
    if spec.get("type") not in BUILTIN_TYPES or len(instruments) != 1 or not isinstance(spec.get("parameters"), dict):
        return
    row = instruments[0]
    for name in ("trade_size", "max_inventory"):
        size = parse_decimal(spec["parameters"].get(name))
        if size is None or size <= 0:
            continue
        if size % row.lot_size != 0:
            result.add(
                f"parameters.{name}", f"must be a multiple of the lot size {plain(row.lot_size)} of {row.instrument_id}"
            )
        elif row.min_quantity and size < row.min_quantity:
            result.add(
                f"parameters.{name}",
                f"must be at least the minimum quantity {plain(row.min_quantity)} of {row.instrument_id}",
            )


def position_notional(row, quantity: Decimal, currency: str) -> Decimal | None:
    """``quantity`` of ``row`` valued in ``currency`` at its reference price, when that needs no FX rate."""
    if row.base_currency == currency:
        return quantity
    if row.quote_currency == currency and row.reference_price:
        return quantity * row.reference_price * row.multiplier
    return None


def _global_limit_rules(spec: dict, instruments: list, account, result: ValidationResult) -> None:
    from risk.models import RiskLimit, Scope

    risk = spec.get("risk") if isinstance(spec.get("risk"), dict) else {}
    max_position = parse_decimal(risk.get("max_position"))
    budget = parse_decimal(risk.get("risk_budget"))
    currency = account.base_currency if account is not None else None
    limits = RiskLimit.objects.filter(scope=Scope.GLOBAL, enabled=True).order_by("kind", "value")
    for limit in limits:
        limit_currency = limit.currency or currency
        unit = "" if limit.kind == RiskLimit.Kind.MAX_POSITION_SIZE or not limit_currency else f" {limit_currency}"
        label = f"{limit.name!r} ({plain(limit.value)}{unit})"
        if limit.kind == RiskLimit.Kind.MAX_POSITION_SIZE and max_position is not None and max_position > limit.value:
            result.add("risk.max_position", f"{plain(max_position)} exceeds the global limit {label}")
        elif limit.kind == RiskLimit.Kind.MAX_POSITION_NOTIONAL and max_position is not None and limit_currency:
            for row in instruments:
                notional = position_notional(row, max_position, limit_currency)
                if notional is not None and notional > limit.value:
                    result.add(
                        "risk.max_position",
                        f"{max_position} {row.instrument_id} is worth about {notional.quantize(Decimal('1'))} "
                        f"{limit_currency}, over the global limit {label}",
                    )
        elif limit.kind in (RiskLimit.Kind.RISK_BUDGET, RiskLimit.Kind.DAILY_LOSS) and budget is not None:
            if (currency is None or limit_currency == currency) and budget > limit.value:
                result.add("risk.risk_budget", f"{plain(budget)} exceeds the global limit {label}")


def account_balance(account) -> Decimal:
    """The account's cash in its base currency: the book's balance, else its starting balance."""
    from portfolio.models import CashBalance

    row = CashBalance.objects.filter(account=account, currency=account.base_currency).first()
    return row.total if row is not None else account.starting_balance


def _allocation_rules(spec: dict, account, result: ValidationResult, *, strategy_id: int | None) -> None:
    from strategies.models import Strategy

    allocation = parse_decimal(spec.get("allocation"))
    if allocation is None or allocation <= 0:
        return
    balance = account_balance(account)
    if allocation > balance:
        result.add(
            "allocation",
            f"{allocation} exceeds the balance of account {account.name} ({plain(balance)} {account.base_currency})",
        )
        return
    running = (
        Strategy.objects.filter(account=account, status__in=ACTIVE_STATUSES)
        .exclude(pk=strategy_id)
        .select_related("current_version")
    )
    committed = Decimal(0)
    for other in running:
        other_allocation = parse_decimal(
            (other.current_version.spec if other.current_version else {}).get("allocation")
        )
        if other_allocation:
            committed += other_allocation
    if committed + allocation > balance:
        result.add(
            "allocation",
            f"{allocation} plus {plain(committed)} allocated to the account's other active strategies exceeds "
            f"the balance of account {account.name} ({plain(balance)} {account.base_currency})",
        )


# Strategies whose capital is committed: deployed, whether trading or paused.
ACTIVE_STATUSES = ("simulation", "live", "paused")


def spec_problems(spec: Any, *, strategy_id: int | None = None) -> ValidationResult:
    """Every problem of ``spec``: shape first, then everything the database can tell."""
    result = spec_shape_problems(spec)
    if isinstance(spec, dict):
        spec_context_problems(spec, result, strategy_id=strategy_id)
    return result


# ---------------------------------------------------------------------------
# The published JSON Schema
# ---------------------------------------------------------------------------


def _param_schema(param: Param) -> dict[str, Any]:
    if param.kind == "integer":
        schema: dict[str, Any] = {"type": "integer", "minimum": int(param.minimum), "maximum": int(param.maximum)}
    else:
        schema = {
            "type": ["string", "integer"],
            "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
            "x-minimum": str(param.minimum),
            "x-maximum": str(param.maximum),
        }
        if param.exclusive_min:
            schema["x-exclusiveMinimum"] = True
    schema["description"] = param.description
    if param.default is not None:
        schema["default"] = param.default
    return schema


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema of spec version 1 (docs/strategy-spec.schema.json is this, pretty-printed).

    Decimal bounds cannot be expressed on strings in JSON Schema, so they are
    carried as ``x-minimum``/``x-maximum``; the desk's validator enforces them.
    """
    decimal = {"type": ["string", "integer"], "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
    branches = []
    for spec_type, params in PARAMETERS.items():
        branches.append(
            {
                "if": {"properties": {"type": {"const": spec_type}}},
                "then": {
                    "required": ["parameters"],
                    "properties": {
                        "parameters": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": [p.name for p in params if p.required],
                            "properties": {p.name: _param_schema(p) for p in params},
                        },
                        "instruments": {"maxItems": 1},
                        **({} if spec_type == "market_maker" else {"bar_spec": {"not": {"const": TICK}}}),
                    },
                    "not": {"anyOf": [{"required": [k]} for k in CUSTOM_ONLY_FIELDS]},
                },
            }
        )
    branches.append(
        {
            "if": {"properties": {"type": {"const": "custom"}}},
            "then": {"required": list(CUSTOM_ONLY_FIELDS), "properties": {"parameters": {"maxProperties": 0}}},
        }
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://nautilus-integration.local/schemas/strategy-spec-v1.json",
        "title": "Strategy spec",
        "description": "A strategy of the Nautilus Integration desk, version 1. See docs/strategies.md.",
        "type": "object",
        "additionalProperties": False,
        "required": ["spec_version", "name", "type", "instruments", "bar_spec", "risk", "allocation", "account"],
        "properties": {
            "spec_version": {"const": SPEC_VERSION},
            "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
            "description": {"type": "string"},
            "type": {"enum": list(TYPES)},
            "instruments": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {
                    "type": "string",
                    "pattern": r"^.+\..+$",
                    "description": "Nautilus instrument id, e.g. EUR/USD.SIM",
                },
            },
            "bar_spec": {
                "type": "string",
                "pattern": r"^(tick|[1-9][0-9]{0,5}-(SECOND|MINUTE|HOUR|DAY)-(BID|ASK|MID|LAST))$",
                "description": (
                    'STEP-UNIT-PRICE such as "1-MINUTE-MID", or "tick" (quotes; market_maker and custom only).'
                ),
            },
            "parameters": {"type": "object"},
            "risk": {
                "type": "object",
                "additionalProperties": False,
                "required": [p.name for p in RISK_FIELDS if p.required],
                "properties": {p.name: _param_schema(p) for p in RISK_FIELDS},
            },
            "allocation": {**decimal, "description": "Capital allocated to the strategy, in the account's currency."},
            "account": {"type": "string", "minLength": 1, "description": "Account name, e.g. SIM-001."},
            "strategy_path": {"type": "string", "pattern": IMPORT_PATH_RE.pattern},
            "config_path": {"type": "string", "pattern": IMPORT_PATH_RE.pattern},
            "config": {"type": "object", "not": {"required": ["strategy_id"]}},
        },
        "allOf": branches,
    }
