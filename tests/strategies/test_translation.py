"""Spec → Nautilus ImportableStrategyConfig → spec, with the real Nautilus config classes."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync

from strategies.translation import StrategyTranslator, nautilus_to_spec, spec_to_nautilus, strategy_deploy_plan
from tests.strategies.conftest import SPECS, create_strategy, make_spec


@pytest.mark.parametrize("spec_type", list(SPECS))
def test_spec_round_trips_through_the_nautilus_config(desk, spec_type):
    spec = make_spec(spec_type)
    translation = async_to_sync(StrategyTranslator().translate_to_nautilus)(spec)
    back = async_to_sync(StrategyTranslator().translate_from_nautilus)(translation.config, **translation.desk)
    assert back == spec


@pytest.mark.parametrize("spec_type", list(SPECS))
def test_round_trip_survives_the_config_as_a_json_file(desk, spec_type):
    """Export → import: the ImportableStrategyConfig's own JSON encoding."""
    from nautilus_trader.config import ImportableStrategyConfig

    spec = make_spec(spec_type)
    translation = spec_to_nautilus(spec)
    exported = translation.config.json()
    imported = ImportableStrategyConfig.parse(exported)
    assert nautilus_to_spec(json.loads(exported), **translation.desk) == spec
    assert nautilus_to_spec(imported, **translation.desk) == spec


@pytest.mark.parametrize("spec_type", [t for t in SPECS if t != "custom"])
def test_translates_to_our_strategy_class_with_instrument_and_bar_type(desk, spec_type):
    from nautilus_trader.trading.config import StrategyFactory

    spec = make_spec(spec_type)
    translation = spec_to_nautilus(spec, order_id_tag="S0042")
    instrument_id = spec["instruments"][0]
    assert translation.instrument_ids == [instrument_id]
    assert translation.bar_types == [f"{instrument_id}-{spec['bar_spec']}-EXTERNAL"]
    assert translation.config.strategy_path.startswith("strategies.library.")
    assert "strategy_id" not in translation.config.config
    assert translation.config.config["budget_currency"] == "USD"
    strategy = StrategyFactory.create(translation.config)
    assert str(strategy.id) == f"{type(strategy).__name__}-S0042"
    assert str(strategy.config.max_position) == spec["risk"]["max_position"]


def test_tick_specs_translate_to_quote_strategies(desk):
    spec = make_spec("market_maker", bar_spec="tick")
    translation = spec_to_nautilus(spec)
    assert translation.bar_types == []
    assert "bar_type" not in translation.config.config
    assert nautilus_to_spec(translation.config, **translation.desk) == spec


def test_imports_a_foreign_nautilus_config_as_a_custom_spec(desk):
    from nautilus_trader.config import ImportableStrategyConfig

    config = ImportableStrategyConfig(
        strategy_path="nautilus_trader.examples.strategies.ema_cross:EMACross",
        config_path="nautilus_trader.examples.strategies.ema_cross:EMACrossConfig",
        config={
            "instrument_id": "EUR/USD.SIM",
            "bar_type": "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
            "trade_size": "1000",
            "order_id_tag": "007",
        },
    )
    spec = nautilus_to_spec(
        config,
        name="Imported",
        account="SIM-001",
        allocation="1000",
        risk={"max_position": "5000", "risk_budget": "100"},
    )
    assert spec["type"] == "custom"
    assert spec["instruments"] == ["EUR/USD.SIM"]
    assert spec["bar_spec"] == "1-MINUTE-BID"
    assert "order_id_tag" not in spec["config"]
    result = async_to_sync(StrategyTranslator().validate_strategy)(spec)
    assert result.ok, result.messages()


def test_validate_strategy_returns_every_problem_with_paths(desk):
    spec = make_spec("ema_cross", instruments=["NOPE.SIM"])
    spec["parameters"]["slow_ema_period"] = 5
    result = async_to_sync(StrategyTranslator().validate_strategy)(spec)
    assert not result.ok
    assert result.as_dict()["problems"] == [
        {"path": "parameters.fast_ema_period", "message": "must be less than slow_ema_period"},
        {"path": "instruments[0]", "message": "unknown instrument 'NOPE.SIM'"},
    ]


def test_deploy_plan_tags_orders_with_the_strategy(desk):
    from nautilus_trader.trading.config import StrategyFactory

    strategy = create_strategy(make_spec("mean_reversion"))
    config = strategy_deploy_plan(strategy.current_version)
    assert config.config["order_id_tag"] == strategy.order_id_tag
    assert str(StrategyFactory.create(config).id) == f"MeanReversion-{strategy.order_id_tag}"


def test_deploy_plan_refuses_a_version_that_no_longer_validates(desk):
    from strategies.translation import SpecError
    from trading.models import Instrument

    strategy = create_strategy(make_spec("ema_cross"))
    Instrument.objects.filter(instrument_id="EUR/USD.SIM").update(tradable=False)
    with pytest.raises(SpecError, match=r"instruments\[0\]: EUR/USD\.SIM is not tradable"):
        strategy_deploy_plan(strategy.current_version)
