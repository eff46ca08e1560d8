"""The decision ledger replays to the same answer; every way the gate can fail rejects."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.risk.conftest import limit, order, position, wait_until


def _stored(desk, gate, **kwargs):
    from risk.services import order_risk_check
    from tests.factories import make_order

    o = make_order(**kwargs)
    return order_risk_check(order=o, gate=gate)


def test_replay_of_approved_and_rejected_decisions_gives_the_same_answer(desk, gate):
    from risk.gate import decision_replay
    from risk.models import RiskDecision

    limit("max_position_size", "100000")
    limit("daily_loss", "50000")
    limit("sector_gross_pct", "50")
    position(desk, "60000")
    gate.runtime.reload()
    ok = _stored(desk, gate, quantity=D("40000"))
    bad = _stored(desk, gate, quantity=D("50000"))
    assert ok.approved and not bad.approved and bad.reason_codes == ["POSITION_SIZE_LIMIT"]
    # The world moves on; the stored decisions still replay to what was decided.
    position(desk, "0")
    for stored in (ok, bad):
        fresh = RiskDecision.objects.get(pk=stored.pk)
        replay = decision_replay(fresh)
        assert replay.matches, replay.differences
        assert replay.approved == stored.approved
    assert {c["limit_version"] for c in ok.checks if c["limit_id"]} == {1}


def test_invalid_numbers_never_reach_the_arithmetic():
    from risk.gate import OrderRequestError, order_request_build

    base = dict(
        client_order_id="X",
        account_id=1,
        instrument_id="EUR/USD.SIM",
        side="BUY",
        order_type="LIMIT",
        quantity=D("1000"),
        price=D("1.1"),
    )
    for field, bad in [
        ("quantity", D("NaN")),
        ("quantity", D("Infinity")),
        ("quantity", D("-1")),
        ("quantity", D("0")),
        ("price", D("sNaN")),
        ("price", D("-1.1")),
        ("price", 1.1),
        ("quantity", "1e30"),
        ("quantity", "abc"),
    ]:
        with pytest.raises(OrderRequestError) as err:
            order_request_build(**{**base, field: bad})
        assert err.value.field == field


def test_gate_rejects_an_invalid_order_with_the_field_named(desk, gate):
    d = gate.validate_order_sync(
        {
            "client_order_id": "Y",
            "account_id": desk["account"].pk,
            "instrument_id": "EUR/USD.SIM",
            "side": "BUY",
            "order_type": "MARKET",
            "quantity": "NaN",
        }
    )
    assert not d.approved and d.reason_codes == ["INVALID_ORDER"] and "quantity" in d.message


def test_a_failing_snapshot_loader_rejects(desk):
    from risk.gate import LiveTradingRiskGate
    from risk.gate.runtime import GateRuntime

    def broken():
        raise RuntimeError("database is down")

    rt = GateRuntime(loader=broken, refresh=3600).start()
    try:
        d = LiveTradingRiskGate(runtime=rt).validate_order_sync(order(desk))
    finally:
        rt.stop()
    assert not d.approved and d.reason_codes == ["SNAPSHOT_UNAVAILABLE"] and "database is down" in d.message


def test_a_stale_snapshot_rejects(desk, runtime):
    from risk.gate import LiveTradingRiskGate

    g = LiveTradingRiskGate({"max_snapshot_age": 0.05}, runtime=runtime)
    wait_until(lambda: runtime.snapshot.age > 0.05, what="the snapshot to age")
    d = g.validate_order_sync(order(desk))
    assert d.reason_codes == ["SNAPSHOT_STALE"]


def test_a_stale_price_rejects(desk, gate):
    import json

    from monitoring.redis_client import redis_client

    redis_client().hset(
        "ni:quotes", "EUR/USD.SIM", json.dumps({"bid": "1.25", "ask": "1.25", "last": "1.25", "ts": 1_000_000_000})
    )
    gate.runtime.reload()
    assert gate.validate_order_sync(order(desk)).reason_codes == ["PRICE_STALE"]


def test_unknown_instrument_and_missing_price_reject(desk, gate):
    from monitoring.redis_client import redis_client

    assert gate.validate_order_sync(order(desk, instrument="NOPE.SIM")).reason_codes == ["UNKNOWN_INSTRUMENT"]
    redis_client().hdel("ni:quotes", "EUR/USD.SIM")
    gate.runtime.reload()
    assert gate.validate_order_sync(order(desk)).reason_codes == ["NO_PRICE"]


def test_redis_down_rejects(desk, gate, restart_redis_after):
    restart_redis_after.stop()
    d = gate.validate_order_sync(order(desk))
    assert not d.approved
    assert d.reason_codes[0] in ("GATE_ERROR", "GATE_CHANNEL_DOWN")
    restart_redis_after.start()
    wait_until(lambda: gate.runtime.connected, timeout=10, what="the gate channel to reconnect")
    from tests.risk.conftest import set_quote

    set_quote("EUR/USD.SIM", "1.25")
    gate.runtime.reload()
    assert gate.validate_order_sync(order(desk)).approved


def test_a_fill_keeps_the_exposure_counted_until_released(desk, gate):
    from risk.gate.reservation import reservation_counters, reservation_fill, reservation_release

    limit("max_position_size", "10000")
    gate.runtime.reload()
    first = gate.validate_order_sync(order(desk, qty="10000"))
    assert first.approved
    assert not gate.validate_order_sync(order(desk, qty="1000")).approved
    coid = first.request.client_order_id
    reservation_fill(client_order_id=coid, filled_lots=10)
    reservation_release(client_order_id=coid, filled_lots=10)
    key = f"q:b:{desk['account'].pk}:EUR/USD.SIM"
    # The filled part settles for a few seconds (until every snapshot has the position), never undercounted.
    assert reservation_counters()[key] == 10
