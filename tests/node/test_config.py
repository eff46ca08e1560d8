"""The node's JSON config: the seed's format is accepted; anything else is refused with its key path."""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from trading.node.config import NodeConfigError, load_node_config, parse_node_config

ROOT = Path(__file__).resolve().parents[2]
SEED = json.loads((ROOT / "config" / "nautilus.json").read_text())
REDIS_URL = "redis://10.0.0.9:6390/0"


def with_change(path: str, value):
    doc = json.loads(json.dumps(SEED))
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return doc


def test_accepts_the_seed_format_file():
    cfg = load_node_config(ROOT / "config" / "nautilus.json", redis_url=REDIS_URL)
    assert cfg.trader_id == "TRADER-001"
    assert cfg.data_engine.qsize == 100000
    assert cfg.data_engine.time_bars_timestamp_on_close is True
    assert cfg.risk_engine.max_order_submit_rate == "100/00:00:01"
    assert cfg.risk_engine.max_notional_per_order == {"USD": Decimal("1000000")}
    assert cfg.exec_engine.allow_cash_positions is True


def test_cache_database_from_json_wins_over_redis_url():
    cfg = parse_node_config(SEED, redis_url=REDIS_URL)
    assert (cfg.cache_database.host, cfg.cache_database.port, cfg.cache_database.from_json) == ("localhost", 6379, True)


def test_cache_database_without_host_uses_redis_url():
    doc = dict(SEED, cache_database={"type": "redis"})
    cfg = parse_node_config(doc, redis_url=REDIS_URL)
    assert (cfg.cache_database.host, cfg.cache_database.port, cfg.cache_database.from_json) == ("10.0.0.9", 6390, False)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("risk_engine.max_order_submit_rate", "100 per second", 'expected "N/HH:MM:SS"'),
        ("risk_engine.max_order_modify_rate", "0/00:00:01", 'expected "N/HH:MM:SS"'),
        ("risk_engine.max_notional_per_order.USD", -5, "expected a positive amount"),
        ("risk_engine.max_notional_per_order.USD", 1.5, "integer or a string"),
        ("risk_engine.max_notional_per_order.not an id", "100", "instrument id"),
        ("risk_engine.bypass", "no", "expected true or false"),
        ("data_engine.qsize", 0, "expected an integer >= 1"),
        ("data_engine.qsize", "big", "expected an integer"),
        ("exec_engine.debug", 1, "expected true or false"),
        ("exec_engine.allow_cash_positions", False, "not supported"),
        ("cache_database.type", "postgres", 'expected "redis"'),
        ("cache_database.port", 70000, "between 1 and 65535"),
        ("simulation.tick_rate", 0, "expected a number > 0"),
        ("log_level", "LOUD", "expected one of"),
        ("trader_id", "TRADER", 'expected "NAME-TAG"'),
    ],
)
def test_rejects_bad_value_naming_its_key_path(path, value, message):
    with pytest.raises(NodeConfigError) as exc:
        parse_node_config(with_change(path, value), redis_url=REDIS_URL)
    assert exc.value.path == path
    assert str(exc.value).startswith(f"{path}: ")
    assert message in str(exc.value)


@pytest.mark.parametrize(
    "path", ["risk_engine.max_order_rate", "exec_engine.qsize_max", "surprise", "data_engine.extra"]
)
def test_rejects_unknown_key_naming_its_path(path):
    with pytest.raises(NodeConfigError) as exc:
        parse_node_config(with_change(path, 1), redis_url=REDIS_URL)
    assert exc.value.path == path
    assert "unknown key" in str(exc.value)


def test_rejects_a_file_that_is_not_json(tmp_path):
    bad = tmp_path / "node.json"
    bad.write_text('{"trader_id": "TRADER-001",')
    with pytest.raises(NodeConfigError) as exc:
        load_node_config(bad, redis_url=REDIS_URL)
    assert "not valid JSON (line 1" in str(exc.value)


def test_requires_trader_id():
    with pytest.raises(NodeConfigError) as exc:
        parse_node_config({"log_level": "INFO"}, redis_url=REDIS_URL)
    assert exc.value.path == "trader_id"
