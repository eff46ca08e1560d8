"""Each validation rule of the spec fires with its message; every problem is reported at once."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from strategies.spec import spec_json_schema
from strategies.translation import spec_validate
from tests.strategies.conftest import SPECS, create_strategy, make_spec

ROOT = Path(__file__).resolve().parents[2]
BAR_SPEC_MESSAGE = (
    'bar_spec: must be "tick" or STEP-UNIT-PRICE such as "1-MINUTE-MID" '
    "(unit SECOND/MINUTE/HOUR/DAY, price BID/ASK/MID/LAST)"
)
ALLOCATION_MESSAGE = (
    "allocation: must be a decimal (string) greater than 0 and at most 1000000000000: capital in the account's currency"
)
ALLOWED = "nautilus_trader.examples.strategies., strategies.library."


def problems(spec, **kwargs) -> list[str]:
    return spec_validate(spec, **kwargs).messages()


@pytest.mark.parametrize("spec_type", list(SPECS))
def test_accepts_a_valid_spec_of_every_type(desk, spec_type):
    assert problems(make_spec(spec_type)) == []


def test_reports_every_problem_not_just_the_first(desk):
    spec = make_spec(
        "ema_cross",
        spec_version=2,
        name="",
        instruments=["NOPE.SIM"],
        bar_spec="1-WEEK-MID",
        allocation="-5",
        account="NO-SUCH",
        extra=1,
    )
    spec["parameters"] = {"fast_ema_period": 1, "slow_ema_period": "twenty", "trade_size": "0", "bogus": 3}
    spec["risk"] = {"max_position": "abc"}
    found = problems(spec)
    assert found == [
        "extra: unknown field",
        "spec_version: must be 1 (the spec format version)",
        "name: must be a non-empty string of at most 128 characters",
        BAR_SPEC_MESSAGE,
        "risk.max_position: must be a decimal (string) greater than 0 and at most 1000000000000",
        "risk.risk_budget: is required",
        ALLOCATION_MESSAGE,
        "parameters.bogus: is not a parameter of ema_cross (expected fast_ema_period, slow_ema_period, trade_size)",
        "parameters.fast_ema_period: must be an integer between 2 and 500",
        "parameters.slow_ema_period: must be an integer between 3 and 2000",
        "parameters.trade_size: must be a decimal (string) greater than 0 and at most 1000000000000",
        "account: unknown account 'NO-SUCH'",
        "instruments[0]: unknown instrument 'NOPE.SIM'",
    ]


@pytest.mark.parametrize(
    ("spec_type", "change", "message"),
    [
        (
            "ema_cross",
            {"type": "arbitrage"},
            "type: must be one of mean_reversion, ema_cross, breakout, market_maker, custom",
        ),
        (
            "ema_cross",
            {"instruments": []},
            'instruments: must be a non-empty list of instrument ids such as "EUR/USD.SIM"',
        ),
        (
            "ema_cross",
            {"instruments": ["EUR/USD.SIM", "GBP/USD.SIM"]},
            "instruments: a ema_cross strategy trades exactly one instrument",
        ),
        ("ema_cross", {"instruments": ["EURUSD"]}, 'instruments[0]: must be an instrument id such as "EUR/USD.SIM"'),
        (
            "ema_cross",
            {"bar_spec": "tick"},
            "bar_spec: tick data is only for market_maker and custom strategies; use a bar spec such as 1-MINUTE-MID",
        ),
        ("ema_cross", {"risk": "lots"}, "risk: must be an object with max_position and risk_budget"),
        (
            "ema_cross",
            {"risk": {"max_position": "30000", "risk_budget": "1000", "stop": 1}},
            "risk.stop: unknown field",
        ),
        (
            "ema_cross",
            {"allocation": 1000.5},
            ALLOCATION_MESSAGE,
        ),
        ("ema_cross", {"account": ""}, 'account: must be the name of an account, such as "SIM-001"'),
        (
            "ema_cross",
            {"strategy_path": "a.b:C"},
            "strategy_path: only custom strategies take an import path and a raw config",
        ),
        ("ema_cross", {"parameters": []}, "parameters: must be an object"),
        (
            "custom",
            {"strategy_path": "not a path"},
            'strategy_path: must be an import path such as "package.module:ClassName"',
        ),
        ("custom", {"config": "x"}, "config: must be an object: the Nautilus strategy config as JSON primitives"),
        (
            "custom",
            {"parameters": {"a": 1}},
            "parameters: custom strategies take their settings in config, not parameters",
        ),
    ],
)
def test_rejects_bad_top_level_fields(desk, spec_type, change, message):
    assert message in problems(make_spec(spec_type, **change))


@pytest.mark.parametrize(
    ("spec_type", "parameters", "message"),
    [
        (
            "ema_cross",
            {"fast_ema_period": 30, "slow_ema_period": 30},
            "parameters.fast_ema_period: must be less than slow_ema_period",
        ),
        ("ema_cross", {"fast_ema_period": 10.0}, "parameters.fast_ema_period: must be an integer between 2 and 500"),
        ("ema_cross", {"fast_ema_period": True}, "parameters.fast_ema_period: must be an integer between 2 and 500"),
        ("ema_cross", {"fast_ema_period": 501}, "parameters.fast_ema_period: must be an integer between 2 and 500"),
        (
            "ema_cross",
            {"trade_size": 10000.0},
            "parameters.trade_size: must be a decimal (string) greater than 0 and at most 1000000000000",
        ),
        (
            "ema_cross",
            {"trade_size": "NaN"},
            "parameters.trade_size: must be a decimal (string) greater than 0 and at most 1000000000000",
        ),
        ("ema_cross", {"trade_size": "40000"}, "parameters.trade_size: must not exceed risk.max_position (30000)"),
        (
            "ema_cross",
            {"trade_size": "10500"},
            "parameters.trade_size: must be a multiple of the lot size 1000 of EUR/USD.SIM",
        ),
        ("mean_reversion", {"bb_std": "0.05"}, "parameters.bb_std: must be a decimal (string) between 0.1 and 10"),
        ("mean_reversion", {"exit_std": "2.0"}, "parameters.exit_std: must be less than bb_std"),
        (
            "mean_reversion",
            {"rsi_period": 14, "rsi_buy": 70, "rsi_sell": 30},
            "parameters.rsi_buy: must be less than rsi_sell",
        ),
        (
            "breakout",
            {"atr_stop_multiple": "25"},
            "parameters.atr_stop_multiple: must be a decimal (string) between 0.1 and 20",
        ),
        ("breakout", {"lookback_bars": 1}, "parameters.lookback_bars: must be an integer between 2 and 1000"),
        ("market_maker", {"max_inventory": "400"}, "parameters.max_inventory: must not exceed risk.max_position (300)"),
        ("market_maker", {"refresh_seconds": 0}, "parameters.refresh_seconds: must be an integer between 1 and 3600"),
        (
            "market_maker",
            {"trade_size": "100.5"},
            "parameters.trade_size: must be a multiple of the lot size 1 of AAPL.SIM",
        ),
    ],
)
def test_rejects_parameters_out_of_type_or_range(desk, spec_type, parameters, message):
    spec = make_spec(spec_type)
    spec["parameters"].update(parameters)
    assert message in problems(spec)


def test_names_missing_required_parameters(desk):
    spec = make_spec("breakout")
    del spec["parameters"]["atr_period"]
    assert "parameters.atr_period: is required (an integer between 2 and 500)" in problems(spec)


def test_rejects_an_instrument_that_is_not_tradable(desk):
    from trading.models import Instrument

    Instrument.objects.filter(instrument_id="EUR/USD.SIM").update(tradable=False)
    assert "instruments[0]: EUR/USD.SIM is not tradable" in problems(make_spec("ema_cross"))


def test_rejects_an_instrument_on_another_venue_than_the_account(desk):
    assert "instruments[0]: EUR/USD.SIM trades on SIM, not on BINANCE (the venue of account BINANCE-SPOT)" in problems(
        make_spec("ema_cross", account="BINANCE-SPOT", allocation="1000")
    )


def test_rejects_a_disabled_account(desk):
    from trading.models import Account

    Account.objects.filter(name="SIM-001").update(status="disabled")
    assert "account: account SIM-001 is disabled" in problems(make_spec("ema_cross"))


def test_rejects_max_position_over_the_global_notional_limit(desk):
    spec = make_spec("ema_cross", risk={"max_position": "100000", "risk_budget": "1000"})
    assert (
        "risk.max_position: 100000 EUR/USD.SIM is worth about 108500 USD, over the global limit "
        "'Default max_position_notional' (100000 USD)"
    ) in problems(spec)


def test_rejects_max_position_over_the_global_quantity_limit(desk):
    from risk.limits import risk_limit_create

    risk_limit_create(
        user=None,
        name="Max qty",
        scope="global",
        kind="max_position_size",
        value=Decimal("20000"),
        currency="",
        params={},
        enabled=True,
    )
    assert "risk.max_position: 30000 exceeds the global limit 'Max qty' (20000)" in problems(make_spec("ema_cross"))


def test_rejects_a_risk_budget_over_the_global_daily_loss(desk):
    spec = make_spec("ema_cross", risk={"max_position": "30000", "risk_budget": "6000"})
    assert "risk.risk_budget: 6000 exceeds the global limit 'Default daily_loss' (5000 USD)" in problems(spec)


def test_ignores_disabled_global_limits(desk):
    from risk.models import RiskLimit

    RiskLimit.objects.filter(kind="daily_loss").update(enabled=False)
    assert problems(make_spec("ema_cross", risk={"max_position": "30000", "risk_budget": "6000"})) == []


def test_rejects_an_allocation_over_the_account_balance(desk):
    assert "allocation: 2000000 exceeds the balance of account SIM-001 (1000000 USD)" in problems(
        make_spec("ema_cross", allocation="2000000")
    )


def test_rejects_an_allocation_that_with_active_strategies_exceeds_the_account(desk):
    create_strategy(make_spec("ema_cross", name="Running A", allocation="600000"), status="simulation")
    create_strategy(make_spec("ema_cross", name="Stopped B", allocation="600000"), status="stopped")
    found = problems(make_spec("mean_reversion", allocation="500000"))
    assert (
        "allocation: 500000 plus 600000 allocated to the account's other active strategies exceeds the balance "
        "of account SIM-001 (1000000 USD)"
    ) in found
    assert problems(make_spec("mean_reversion", allocation="400000")) == []


def test_does_not_count_the_edited_strategy_against_itself(desk):
    strategy = create_strategy(make_spec("ema_cross", name="Running A", allocation="900000"), status="simulation")
    assert problems(make_spec("ema_cross", name="Running A", allocation="950000"), strategy_id=strategy.pk) == []


def test_rejects_a_custom_strategy_outside_the_allowed_modules(desk):
    spec = make_spec("custom", strategy_path="os:system", config_path="os:environ")
    assert problems(spec) == [
        f"strategy_path: custom strategies must live in one of: {ALLOWED}",
        f"config_path: custom strategies must live in one of: {ALLOWED}",
    ]


def test_rejects_a_custom_strategy_that_does_not_import(desk):
    spec = make_spec("custom", strategy_path="nautilus_trader.examples.strategies.ema_cross:Nope")
    assert problems(spec) == [
        "strategy_path: cannot import nautilus_trader.examples.strategies.ema_cross:Nope: "
        "module 'nautilus_trader.examples.strategies.ema_cross' has no attribute 'Nope'"
    ]


def test_rejects_a_custom_config_class_that_is_not_a_strategy_config(desk):
    spec = make_spec("custom", config_path="nautilus_trader.examples.strategies.ema_cross:EMACross")
    assert problems(spec) == [
        "config_path: nautilus_trader.examples.strategies.ema_cross:EMACross is not a Nautilus StrategyConfig class"
    ]


def test_names_the_custom_config_field_nautilus_refuses(desk):
    spec = make_spec("custom")
    spec["config"]["fast_ema_period"] = "fast"
    assert problems(spec) == ["config.fast_ema_period: Expected `int`, got `str`"]


def test_refuses_strategy_id_in_a_custom_config(desk):
    spec = make_spec("custom")
    spec["config"]["strategy_id"] = "EMACross-001"
    assert "config.strategy_id: must not be set; the desk derives the id from order_id_tag" in problems(spec)


def test_published_json_schema_is_the_generated_one():
    published = json.loads((ROOT / "docs" / "strategy-spec.schema.json").read_text())
    assert published == spec_json_schema()


@pytest.mark.parametrize("spec_type", list(SPECS))
def test_published_json_schema_accepts_the_valid_specs(spec_type):
    import jsonschema

    jsonschema.Draft202012Validator(spec_json_schema()).validate(make_spec(spec_type))


def test_published_json_schema_refuses_an_unknown_parameter():
    import jsonschema

    spec = make_spec("ema_cross")
    spec["parameters"]["bogus"] = 1
    assert list(jsonschema.Draft202012Validator(spec_json_schema()).iter_errors(spec))


def test_create_test_strategies_style_specs_of_every_type_validate(desk):
    """The shape ``manage.py create_test_strategies`` should write (see docs/strategies.md)."""
    from strategies.management.commands.create_test_strategies import TYPES

    for number, strategy_type in enumerate(TYPES, start=1):
        spec = make_spec(
            strategy_type.value,
            name=f"Demo {strategy_type.label} {number:02d}",
            allocation=str(Decimal("50000") + number * 5000),
        )
        assert problems(spec) == [], strategy_type


@pytest.mark.parametrize(
    "junk",
    [
        None,
        [],
        "spec",
        {"type": ["ema_cross"], "instruments": [{"id": 1}], "parameters": {"trade_size": {"x": 1}}},
        {"type": "ema_cross", "instruments": "EUR/USD.SIM", "risk": [], "allocation": {}, "account": 5},
        {"type": "custom", "config": [], "strategy_path": 3, "instruments": [None], "bar_spec": 1},
        {
            "type": "market_maker",
            "parameters": {"max_inventory": "1e400", "trade_size": "-0"},
            "risk": {"max_position": None},
        },
    ],
)
def test_reports_problems_for_junk_instead_of_raising(desk, junk):
    assert spec_validate(junk).problems
