"""Between our spec and Nautilus: ``StrategyTranslator`` and the one performance-metric mapping.

``StrategyTranslator`` keeps the seed's interface (async):

- ``translate_to_nautilus(spec)`` → ``NautilusTranslation``: the
  ``ImportableStrategyConfig`` plus the instrument ids and bar types it needs;
- ``validate_strategy(spec)`` → ``ValidationResult`` listing every problem;
- ``translate_from_nautilus(config, ...)`` → a spec (import of a Nautilus config).

The sync functions underneath (``spec_to_nautilus``, ``nautilus_to_spec``,
``spec_validate``) are what Celery tasks call. Nautilus is imported inside
functions only: the web process may import this module to validate a spec
without paying for the engine until a custom strategy must be imported.

Round trip: ``nautilus_to_spec(spec_to_nautilus(spec).config, **translation.desk) == spec``.
The config carries only the spec's own parameters (the config classes hold the
defaults), so nothing is added on the way and values keep their JSON types.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from strategies.spec import (
    SPEC_VERSION,
    TICK,
    ValidationResult,
    spec_problems,
    spec_shape_problems,
)

# Type → (strategy_path, config_path). Kept here as strings so that the web process
# can translate without importing strategies.library (which imports Nautilus).
STRATEGY_CLASSES: dict[str, tuple[str, str]] = {
    "mean_reversion": (
        "strategies.library.mean_reversion:MeanReversion",
        "strategies.library.mean_reversion:MeanReversionConfig",
    ),
    "ema_cross": ("strategies.library.ema_cross:EMACrossTrend", "strategies.library.ema_cross:EMACrossTrendConfig"),
    "breakout": ("strategies.library.breakout:DonchianBreakout", "strategies.library.breakout:DonchianBreakoutConfig"),
    "market_maker": (
        "strategies.library.market_maker:InventoryMarketMaker",
        "strategies.library.market_maker:InventoryMarketMakerConfig",
    ),
}
TYPE_BY_STRATEGY_PATH = {paths[0]: spec_type for spec_type, paths in STRATEGY_CLASSES.items()}
# Config keys the translator writes that are not spec parameters.
DESK_CONFIG_KEYS = ("instrument_id", "bar_type", "max_position", "risk_budget", "budget_currency", "order_id_tag")
# StrategyConfig fields a foreign config may carry that our spec has no place for.
ENGINE_ONLY_KEYS = (
    "strategy_id",
    "order_id_tag",
    "oms_type",
    "external_order_claims",
    "manage_contingent_orders",
    "manage_gtd_expiry",
    "manage_stop",
    "market_exit_interval_ms",
    "market_exit_max_attempts",
    "market_exit_time_in_force",
    "market_exit_reduce_only",
    "use_uuid_client_order_ids",
    "use_hyphens_in_client_order_ids",
    "log_events",
    "log_commands",
    "log_rejected_due_post_only_as_warning",
    "close_positions_on_stop",
)
DEFAULT_CUSTOM_MODULES = ("nautilus_trader.examples.strategies.", "strategies.library.")
BACKTEST_TAG = "BT"


class SpecError(ValueError):
    """The spec cannot be translated; ``result`` lists why."""

    def __init__(self, result: ValidationResult):
        super().__init__("; ".join(result.messages()))
        self.result = result


@dataclass
class NautilusTranslation:
    config: Any  # ImportableStrategyConfig
    instrument_ids: list[str]
    bar_types: list[str]  # empty for tick (quote) strategies
    # The spec fields Nautilus has no place for; pass them back to nautilus_to_spec.
    desk: dict[str, Any] = field(default_factory=dict)


def bar_type_for(instrument_id: str, bar_spec: str) -> str:
    """``("EUR/USD.SIM", "1-MINUTE-MID")`` → ``"EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"`` (bars from the feed/catalog)."""
    return f"{instrument_id}-{bar_spec}-EXTERNAL"


def bar_spec_from_type(bar_type: str, instrument_id: str) -> str:
    prefix, suffix = f"{instrument_id}-", "-EXTERNAL"
    if not (bar_type.startswith(prefix) and bar_type.endswith(suffix)):
        raise ValueError(f"bar_type {bar_type!r} is not an EXTERNAL bar type of {instrument_id}")
    return bar_type[len(prefix) : -len(suffix)]


def _account_currency(account_name: str) -> str | None:
    from trading.models import Account

    return Account.objects.filter(name=account_name).values_list("base_currency", flat=True).first()


def spec_to_nautilus(
    spec: dict, *, order_id_tag: str = BACKTEST_TAG, budget_currency: str | None = None, parameters: dict | None = None
) -> NautilusTranslation:
    """Translate a valid spec; ``parameters`` overrides some of its parameters (optimisation trials).

    Raises ``SpecError`` when the spec's shape is invalid.
    """
    from nautilus_trader.config import ImportableStrategyConfig

    if parameters:
        spec = {**spec, "parameters": {**spec.get("parameters", {}), **parameters}}
    shape = spec_shape_problems(spec)
    if not shape.ok:
        raise SpecError(shape)
    instruments = list(spec["instruments"])
    bar_spec = spec["bar_spec"]
    bar_types = [] if bar_spec == TICK else [bar_type_for(i, bar_spec) for i in instruments]
    desk = {"name": spec["name"], "account": spec["account"], "allocation": spec["allocation"]}
    if "description" in spec:
        desk["description"] = spec["description"]
    if spec["type"] == "custom":
        desk.update(instruments=instruments, bar_spec=bar_spec, risk=dict(spec["risk"]))
        config = {**spec["config"], "order_id_tag": order_id_tag}
        return NautilusTranslation(
            config=ImportableStrategyConfig(
                strategy_path=spec["strategy_path"], config_path=spec["config_path"], config=config
            ),
            instrument_ids=instruments,
            bar_types=bar_types,
            desk=desk,
        )
    strategy_path, config_path = STRATEGY_CLASSES[spec["type"]]
    currency = budget_currency or _account_currency(spec["account"])
    config: dict[str, Any] = {
        "instrument_id": instruments[0],
        **({"bar_type": bar_types[0]} if bar_types else {}),
        **spec["parameters"],
        "max_position": spec["risk"]["max_position"],
        "risk_budget": spec["risk"]["risk_budget"],
        "order_id_tag": order_id_tag,
    }
    if currency:
        config["budget_currency"] = currency
    return NautilusTranslation(
        config=ImportableStrategyConfig(strategy_path=strategy_path, config_path=config_path, config=config),
        instrument_ids=instruments,
        bar_types=bar_types,
        desk=desk,
    )


def _primitive(value: Any) -> Any:
    """Nautilus objects (InstrumentId, BarType, Decimal) back to the JSON the spec holds."""
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return str(Decimal(repr(value)))
    if isinstance(value, dict):
        return {k: _primitive(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_primitive(v) for v in value]
    return str(value)


def _importable_parts(config: Any) -> tuple[str, str, dict]:
    if isinstance(config, dict):
        try:
            return str(config["strategy_path"]), str(config["config_path"]), dict(config.get("config") or {})
        except KeyError as exc:
            raise ValueError(f"{exc.args[0]}: required in a Nautilus ImportableStrategyConfig") from None
    return config.strategy_path, config.config_path, dict(config.config or {})


def nautilus_to_spec(
    config: Any,
    *,
    name: str,
    account: str,
    allocation: str,
    description: str | None = None,
    instruments: list[str] | None = None,
    bar_spec: str | None = None,
    risk: dict | None = None,
) -> dict:
    """A spec from a Nautilus ``ImportableStrategyConfig`` (or its JSON dict).

    Our own strategy classes map back to their type; anything else becomes a
    ``custom`` spec, which needs ``instruments``, ``bar_spec`` and ``risk`` from
    the caller when its config does not say (Nautilus configs carry no desk risk).
    The result is not validated here: run ``spec_validate`` on it.
    """
    strategy_path, config_path, raw = _importable_parts(config)
    values = {k: _primitive(v) for k, v in raw.items()}
    spec: dict[str, Any] = {"spec_version": SPEC_VERSION, "name": name}
    if description is not None:
        spec["description"] = description
    spec_type = TYPE_BY_STRATEGY_PATH.get(strategy_path)
    if spec_type is not None:
        instrument_id = values.get("instrument_id")
        bar_type = values.get("bar_type")
        spec.update(
            type=spec_type,
            instruments=[instrument_id],
            bar_spec=bar_spec_from_type(bar_type, instrument_id) if bar_type else TICK,
            parameters={k: v for k, v in values.items() if k not in DESK_CONFIG_KEYS and k not in ENGINE_ONLY_KEYS},
            risk={
                **(risk or {}),  # desk-only risk fields (live_drift_bound) are not in the Nautilus config
                "max_position": values.get("max_position", (risk or {}).get("max_position")),
                "risk_budget": values.get("risk_budget", (risk or {}).get("risk_budget")),
            },
        )
    else:
        found = values.get("instrument_id")
        spec.update(
            type="custom",
            instruments=instruments or ([found] if found else []),
            bar_spec=bar_spec or _custom_bar_spec(values),
            risk=dict(risk or {}),
            strategy_path=strategy_path,
            config_path=config_path,
            config={k: v for k, v in values.items() if k != "order_id_tag"},
        )
    spec.update(allocation=allocation, account=account)
    return spec


def _custom_bar_spec(values: dict) -> str:
    bar_type, instrument_id = values.get("bar_type"), values.get("instrument_id")
    if isinstance(bar_type, str) and isinstance(instrument_id, str):
        try:
            return bar_spec_from_type(bar_type, instrument_id)
        except ValueError:
            pass
    return TICK


# ---------------------------------------------------------------------------
# Validation with the engine's own parsers
# ---------------------------------------------------------------------------


def _custom_modules() -> tuple[str, ...]:
    return tuple(getattr(settings, "STRATEGY_CUSTOM_MODULES", DEFAULT_CUSTOM_MODULES))


def _import(path: str):
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _msgspec_path(error: Exception) -> tuple[str, str]:
    """``Expected `int`, got `str` - at `$.fast_ema_period``` → ("fast_ema_period", "Expected `int`, got `str`")."""
    text = str(error)
    message, sep, where = text.rpartition(" - at `")
    if not sep:
        return "", text
    return where.rstrip("`").removeprefix("$").lstrip("."), message


def engine_problems(spec: dict, result: ValidationResult) -> None:
    """What only Nautilus can say: the config parses into its class, a custom class imports."""
    from nautilus_trader.config import StrategyConfig
    from nautilus_trader.trading.strategy import Strategy as NautilusStrategy

    if spec["type"] == "custom":
        allowed = _custom_modules()
        paths_ok = True
        for key in ("strategy_path", "config_path"):
            if not spec[key].startswith(allowed):
                result.add(key, f"custom strategies must live in one of: {', '.join(allowed)}")
                paths_ok = False
        if not paths_ok:
            return
        loaded = {}
        for key, base in (("strategy_path", NautilusStrategy), ("config_path", StrategyConfig)):
            try:
                loaded[key] = _import(spec[key])
            except (ImportError, AttributeError) as exc:
                result.add(key, f"cannot import {spec[key]}: {exc}")
                continue
            if not (isinstance(loaded[key], type) and issubclass(loaded[key], base)):
                result.add(key, f"{spec[key]} is not a Nautilus {base.__name__} class")
                loaded.pop(key)
        if len(loaded) != 2:
            return
    try:
        from nautilus_trader.trading.config import StrategyFactory

        # Builds the strategy as the engine will: config parsing and the class's own checks.
        StrategyFactory.create(spec_to_nautilus(spec, budget_currency="USD").config)
    except SpecError:
        return
    except Exception as exc:  # msgspec.ValidationError and friends, with a $.path
        where, message = _msgspec_path(exc)
        prefix = "config" if spec["type"] == "custom" else "parameters"
        result.add(f"{prefix}.{where}" if where else prefix, message)


def spec_validate(spec: Any, *, strategy_id: int | None = None, engine: bool = True) -> ValidationResult:
    """Every problem of ``spec``: our rules, then (when they pass) the engine's parsers."""
    result = spec_problems(spec, strategy_id=strategy_id)
    if engine and isinstance(spec, dict) and spec_shape_problems(spec).ok:
        engine_problems(spec, result)
    return result


# ---------------------------------------------------------------------------
# The seed's interface
# ---------------------------------------------------------------------------


class StrategyTranslator:
    """Async facade with the seed's method names; each call runs the sync function in a thread."""

    async def translate_to_nautilus(
        self, spec: dict, *, order_id_tag: str = BACKTEST_TAG, parameters: dict | None = None
    ) -> NautilusTranslation:
        return await sync_to_async(spec_to_nautilus)(spec, order_id_tag=order_id_tag, parameters=parameters)

    async def validate_strategy(self, config: dict, *, strategy_id: int | None = None) -> ValidationResult:
        return await sync_to_async(spec_validate)(config, strategy_id=strategy_id)

    async def translate_from_nautilus(self, config: Any, **desk: Any) -> dict:
        return nautilus_to_spec(config, **desk)


def strategy_deploy_plan(version) -> Any:
    """The ``ImportableStrategyConfig`` that runs ``version`` on the node (order ids tagged per strategy).

    The node builder adds it to ``TradingNodeConfig.strategies``; the strategy id
    becomes ``{Class}-{Strategy.order_id_tag}`` so the gate and the book can tell
    whose orders are whose. Raises ``SpecError`` if the version no longer validates.
    """
    result = spec_validate(version.spec, strategy_id=version.strategy_id)
    if not result.ok:
        raise SpecError(result)
    return spec_to_nautilus(version.spec, order_id_tag=version.strategy.order_id_tag).config


# ---------------------------------------------------------------------------
# Performance metrics: Nautilus statistics → our names (the one place)
# ---------------------------------------------------------------------------

# Our metric names, in display order. Stored as decimal strings (None when undefined).
METRICS = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "trades",
    "exposure",
    "pnl",
    "fees",
    "ending_equity",
)
# Ours ← Nautilus PortfolioAnalyzer statistic (section, name). Sharpe and Sortino are
# Nautilus's, on daily returns annualised over 252 days; the rest we compute exactly
# from the equity curve and the trades (Nautilus has no CAGR or exposure, and its
# profit factor is on returns, not trade P&L).
NAUTILUS_METRICS = {
    "sharpe": ("returns", "Sharpe Ratio (252 days)"),
    "sortino": ("returns", "Sortino Ratio (252 days)"),
}
QUANT = Decimal("0.000001")


def _finite(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    return Decimal(repr(number)).quantize(QUANT)


def _text(value: Decimal | int | None) -> str | None:
    return None if value is None else str(value)


def nautilus_statistics(analyzer) -> dict[str, dict[str, str | None]]:
    """The analyzer's statistics as JSON (floats as 6-decimal strings, NaN as null)."""
    sections = {
        "pnls": analyzer.get_performance_stats_pnls(),
        "returns": analyzer.get_performance_stats_returns(),
        "general": analyzer.get_performance_stats_general(),
    }
    return {section: {name: _text(_finite(v)) for name, v in stats.items()} for section, stats in sections.items()}


def performance_metrics(
    *,
    nautilus: dict,
    equity_curve: list[tuple[datetime, Decimal]],
    trades: list[dict],
    start: datetime,
    end: datetime,
    starting_equity: Decimal,
    fees: Decimal,
    exposure_seconds: Decimal,
) -> dict[str, str | int | None]:
    """Our statistics from a finished backtest (all money in the account currency)."""
    ending = equity_curve[-1][1] if equity_curve else starting_equity
    total_return = ending / starting_equity - 1
    years = Decimal((end - start).total_seconds()) / Decimal(365.25 * 86400)
    cagr = None
    if years > 0 and ending > 0:
        cagr = (ending / starting_equity) ** (1 / years) - 1
    peak, max_dd = starting_equity, Decimal(0)
    for _, equity in equity_curve:
        peak = max(peak, equity)
        max_dd = min(max_dd, equity / peak - 1)
    wins = [t["pnl"] for t in trades if t["pnl"] > 0]
    losses = [t["pnl"] for t in trades if t["pnl"] < 0]
    duration = Decimal((end - start).total_seconds())
    metrics: dict[str, Any] = {
        "total_return": total_return.quantize(QUANT),
        "cagr": cagr.quantize(QUANT) if cagr is not None and cagr.is_finite() and abs(cagr) < Decimal("1e12") else None,
        "max_drawdown": max_dd.quantize(QUANT),
        "win_rate": (Decimal(len(wins)) / len(trades)).quantize(QUANT) if trades else None,
        "profit_factor": (sum(wins) / -sum(losses)).quantize(QUANT) if losses else None,
        "trades": len(trades),
        "exposure": (exposure_seconds / duration).quantize(QUANT) if duration > 0 else None,
        "pnl": (ending - starting_equity),
        "fees": fees,
        "ending_equity": ending,
    }
    for ours, (section, theirs) in NAUTILUS_METRICS.items():
        metrics[ours] = nautilus.get(section, {}).get(theirs)
    return {
        name: (value if isinstance(value, int | None) else str(value))
        for name, value in ((name, metrics.get(name)) for name in METRICS)
    }
