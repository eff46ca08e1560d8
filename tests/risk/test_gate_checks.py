"""Each check of the gate at just under, at and just over its limit (limit == measured passes)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from tests.risk.conftest import limit, order, position, set_quote


def _cash(desk, total: str) -> None:
    from portfolio.models import CashBalance

    CashBalance.objects.filter(account=desk["account"], currency="USD").update(total=D(total))


def _peak(desk, value: str) -> None:
    from portfolio.models import PortfolioSnapshot

    PortfolioSnapshot.objects.create(
        at=timezone.now() - timedelta(days=1), account=desk["account"], total_value=D(value), cash=D(value)
    )


def _strategy():
    from strategies.models import Strategy

    return Strategy.objects.create(name="Budgeted", strategy_type="mean_reversion")


def _correlate():
    from monitoring.redis_client import redis_client

    redis_client().set(
        "ni:risk:correlations",
        json.dumps({"matrix": {"EUR/USD.SIM": {"GBP/USD.SIM": 0.9}, "GBP/USD.SIM": {"EUR/USD.SIM": 0.9}}}),
    )


# name: (setup(desk) -> extra order kwargs, [(order kwargs, passes)] for under / at / over, reason)
CASES = {
    "max_order_quantity": (
        lambda d: limit("max_order_quantity", "10000"),
        [{"qty": "9000"}, {"qty": "10000"}, {"qty": "11000"}],
        "ORDER_QUANTITY_LIMIT",
    ),
    "max_order_notional": (
        lambda d: limit("max_order_notional", "12500"),  # 10,000 x 1.25
        [{"qty": "9000"}, {"qty": "10000"}, {"qty": "11000"}],
        "ORDER_NOTIONAL_LIMIT",
    ),
    "price_band_pct": (
        lambda d: limit("price_band_pct", "1"),  # 1% of 1.25 = 0.0125
        [
            {"order_type": "LIMIT", "price": "1.26249"},
            {"order_type": "LIMIT", "price": "1.26250"},
            {"order_type": "LIMIT", "price": "1.26251"},
        ],
        "PRICE_BAND",
    ),
    "max_position_size": (
        lambda d: (limit("max_position_size", "100000"), position(d, "50000")),
        [{"qty": "49000"}, {"qty": "50000"}, {"qty": "51000"}],
        "POSITION_SIZE_LIMIT",
    ),
    "max_position_size_short": (
        lambda d: (limit("max_position_size", "100000"), position(d, "-50000")),
        [{"side": "SELL", "qty": "49000"}, {"side": "SELL", "qty": "50000"}, {"side": "SELL", "qty": "51000"}],
        "POSITION_SIZE_LIMIT",
    ),
    "max_position_notional": (
        lambda d: limit("max_position_notional", "125000", scope="account", account=d["account"]),
        [{"qty": "99000"}, {"qty": "100000"}, {"qty": "101000"}],
        "POSITION_NOTIONAL_LIMIT",
    ),
    "buying_power": (  # margin: 1,000,000 equity x leverage 10 = 10,000,000 notional
        lambda d: None,
        [{"qty": "7999000"}, {"qty": "8000000"}, {"qty": "8001000"}],
        "INSUFFICIENT_BUYING_POWER",
    ),
    "min_free_balance": (  # keep 100,000 free: 9,000,000 notional
        lambda d: limit("min_free_balance", "100000"),
        [{"qty": "7199000"}, {"qty": "7200000"}, {"qty": "7201000"}],
        "MIN_FREE_BALANCE",
    ),
    "max_leverage": (
        lambda d: limit("max_leverage", "2"),
        [{"qty": "1599000"}, {"qty": "1600000"}, {"qty": "1601000"}],
        "LEVERAGE_LIMIT",
    ),
    "sector_gross_pct": (  # 5% of 1,000,000 equity = 50,000 = 40,000 x 1.25
        lambda d: limit("sector_gross_pct", "5", scope="sector", sector=d["eur"].sector),
        [{"qty": "39000"}, {"qty": "40000"}, {"qty": "41000"}],
        "SECTOR_GROSS_LIMIT",
    ),
    "sector_net_pct": (
        lambda d: limit("sector_net_pct", "5"),
        [{"qty": "39000"}, {"qty": "40000"}, {"qty": "41000"}],
        "SECTOR_NET_LIMIT",
    ),
    "correlation_exposure": (  # GBP 40,000 x 1.25 = 50,000 held; group limit 75,000
        lambda d: (
            _correlate(),
            position(d, "40000", instrument=d["gbp"]),
            limit("correlation_exposure", "75000", params={"threshold": 0.8}),
        ),
        [{"qty": "19000"}, {"qty": "20000"}, {"qty": "21000"}],
        "CORRELATION_LIMIT",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_check_passes_under_and_at_and_rejects_over_its_limit(case, desk, gate):
    setup, orders, reason = CASES[case]
    setup(desk)
    gate.runtime.reload()
    verdicts = []
    for kwargs in orders:
        decision = gate.validate_order_sync(order(desk, **kwargs))
        verdicts.append(decision.approved)
        # Each probe stands alone: give its reservation back.
        from risk.gate.reservation import reservation_release

        reservation_release(client_order_id=decision.request.client_order_id)
        if kwargs is orders[2]:
            assert reason in decision.reason_codes, decision.checks
            failed = [c for c in decision.checks if not c.passed]
            assert all(c.limit is not None for c in failed if c.reason_code == reason)
    assert verdicts == [True, True, False]


def test_risk_budget_of_a_strategy(desk, gate):
    strategy = _strategy()
    limit("risk_budget", "50000", scope="strategy", strategy=strategy)
    gate.runtime.reload()
    from risk.gate.reservation import reservation_release

    verdicts = []
    for qty in ("39000", "40000", "41000"):
        d = gate.validate_order_sync(order(desk, qty=qty, strategy=strategy.pk))
        reservation_release(client_order_id=d.request.client_order_id)
        verdicts.append((d.approved, d.reason_codes))
    assert verdicts == [(True, []), (True, []), (False, ["RISK_BUDGET_LIMIT"])]


@pytest.mark.parametrize(("cash", "passes"), [("999001", True), ("999000", True), ("998999", False)])
def test_daily_loss_since_session_start(desk, gate, cash, passes):
    limit("daily_loss", "1000", scope="account", account=desk["account"])
    _cash(desk, cash)
    gate.runtime.reload()
    decision = gate.validate_order_sync(order(desk))
    assert decision.approved is passes
    if not passes:
        assert decision.reason_codes == ["DAILY_LOSS_LIMIT"]


def test_daily_loss_counts_unrealised_pnl(desk, gate):
    limit("daily_loss", "1000")
    position(desk, "100000", avg="1.26")  # marked at 1.25: -1,000 unrealised
    set_quote("EUR/USD.SIM", "1.24999")  # -1,001
    gate.runtime.reload()
    assert gate.validate_order_sync(order(desk)).reason_codes == ["DAILY_LOSS_LIMIT"]
    # Cutting the losing position is still allowed.
    assert gate.validate_order_sync(order(desk, side="SELL", qty="10000")).approved


@pytest.mark.parametrize(("cash", "passes"), [("1000001", True), ("1000000", True), ("999999", False)])
def test_drawdown_from_peak_equity(desk, gate, cash, passes):
    limit("max_drawdown_pct", "50")
    _peak(desk, "2000000")
    _cash(desk, cash)
    gate.runtime.reload()
    decision = gate.validate_order_sync(order(desk))
    assert decision.approved is passes, decision.checks


@pytest.mark.parametrize("kind,reason", [("order_rate", "ORDER_RATE_LIMIT"), ("max_open_orders", "OPEN_ORDERS_LIMIT")])
def test_order_rate_and_open_orders_count_across_orders(desk, gate, kind, reason):
    limit(kind, "3", scope="account", account=desk["account"], window_seconds=60 if kind == "order_rate" else None)
    gate.runtime.reload()
    results = [gate.validate_order_sync(order(desk)) for _ in range(4)]
    assert [r.approved for r in results] == [True, True, True, False]  # 2 under, 3 at, 4 over
    assert reason in results[3].reason_codes


def test_open_order_slot_comes_back_when_an_order_ends(desk, gate):
    from risk.gate.reservation import reservation_release

    limit("max_open_orders", "1", scope="account", account=desk["account"])
    gate.runtime.reload()
    first = gate.validate_order_sync(order(desk))
    assert first.approved
    assert not gate.validate_order_sync(order(desk)).approved
    reservation_release(client_order_id=first.request.client_order_id)
    assert gate.validate_order_sync(order(desk)).approved


def test_instrument_rules(desk, gate):
    from trading.models import Instrument

    Instrument.objects.filter(instrument_id="GBP/USD.SIM").update(tradable=False)
    limit("instrument_list", "1", params={"blocked": ["AUD/USD.SIM"]})
    gate.runtime.reload()
    assert "INSTRUMENT_NOT_TRADABLE" in gate.validate_order_sync(order(desk, instrument="GBP/USD.SIM")).reason_codes
    assert "INSTRUMENT_BLOCKED" in gate.validate_order_sync(order(desk, instrument="AUD/USD.SIM")).reason_codes
    assert "QUANTITY_NOT_LOT_MULTIPLE" in gate.validate_order_sync(order(desk, qty="1500")).reason_codes
    off_tick = order(desk, order_type="LIMIT", price="1.250001")
    assert "PRICE_NOT_ON_TICK" in gate.validate_order_sync(off_tick).reason_codes
    assert gate.validate_order_sync(order(desk, qty="1000")).approved


def test_allowed_list_refuses_everything_else(desk, gate):
    limit("instrument_list", "1", scope="account", account=desk["account"], params={"allowed": ["EUR/USD.SIM"]})
    gate.runtime.reload()
    assert gate.validate_order_sync(order(desk)).approved
    assert gate.validate_order_sync(order(desk, instrument="GBP/USD.SIM")).reason_codes == ["INSTRUMENT_NOT_ALLOWED"]


def test_every_matching_scope_applies(desk, gate):
    limit("max_order_quantity", "100000")
    limit("max_order_quantity", "5000", scope="instrument", instrument=desk["eur"])
    gate.runtime.reload()
    d = gate.validate_order_sync(order(desk, qty="6000"))
    assert d.reason_codes == ["ORDER_QUANTITY_LIMIT"]
    # The binding (tightest) limit is the check's result; every applied limit and its version is in the ledger.
    assert [c.limit for c in d.checks if c.name == "max_order_quantity"] == [D("5000")]
    assert sorted(r["value"] for r in d.ledger()["snapshot"]["limits"]) == ["100000.0000000000", "5000.0000000000"]
    assert gate.validate_order_sync(order(desk, qty="6000", instrument="GBP/USD.SIM")).approved


def test_disabled_limits_do_not_apply(desk, gate):
    limit("max_order_quantity", "1000", enabled=False)
    gate.runtime.reload()
    assert gate.validate_order_sync(order(desk, qty="5000")).approved


def test_reduce_only_order_must_shrink_the_position(desk, gate):
    position(desk, "10000")
    gate.runtime.reload()
    assert gate.validate_order_sync(order(desk, side="SELL", qty="10000", reduce_only=True)).approved
    assert (
        "REDUCE_ONLY_WOULD_INCREASE"
        in gate.validate_order_sync(order(desk, side="BUY", qty="1000", reduce_only=True)).reason_codes
    )


def test_decision_records_limit_versions_and_inputs(desk, gate):
    lim = limit("max_order_quantity", "10000")
    lim.value = D("20000")
    lim.version = 2
    lim.save()
    gate.runtime.reload()
    d = gate.validate_order_sync(order(desk, qty="15000"))
    assert d.approved
    check = next(c for c in d.checks if c.name == "max_order_quantity")
    assert (check.limit_id, check.limit_version, check.measured, check.limit) == (lim.pk, 2, D("15000"), D("20000"))
    ledger = d.ledger()
    assert ledger["snapshot"]["position"] == "0"
    assert ledger["snapshot"]["quote"]["bid"] == "1.25"
    assert ledger["elapsed_us"] > 0


def test_adopted_cluster_limits_exactly_the_instruments_it_names(desk, gate):
    """A cluster adopted from the graph (a global correlation_exposure limit with params.instruments)
    adds up its own instruments, whatever today's correlation matrix says, and limits no other."""
    from monitoring.redis_client import redis_client
    from monitoring.roles import Role
    from portfolio.graph.services import graph_cluster_adopt
    from risk.gate.reservation import reservation_release
    from risk.gate.utilisation import limit_utilisation
    from tests.factories import make_role_users

    redis_client().delete("ni:risk:correlations")  # no matrix: only the adopted list groups EUR with GBP
    position(desk, "40000", instrument=desk["gbp"])  # 50,000 USD held in the cluster
    adopted = graph_cluster_adopt(
        instruments=["EUR/USD.SIM", "GBP/USD.SIM"],
        threshold="0.7",
        value="75000",
        user=make_role_users()[Role.RISK_MANAGER],
    )
    gate.runtime.reload()
    verdicts = []
    for qty in ("19000", "20000", "21000"):  # 23,750 / 25,000 / 26,250 more
        d = gate.validate_order_sync(order(desk, qty=qty))
        reservation_release(client_order_id=d.request.client_order_id)
        verdicts.append((d.approved, d.reason_codes))
    assert verdicts == [(True, []), (True, []), (False, ["CORRELATION_LIMIT"])]
    check = next(c for c in d.checks if c.name == "correlation_exposure")
    assert (check.limit_id, check.measured, check.limit) == (adopted.pk, D("76250"), D("75000"))
    # Outside the cluster the limit does not apply at all.
    outside = gate.validate_order_sync(order(desk, qty="100000", instrument="AUD/USD.SIM"))
    assert outside.approved
    assert adopted.pk not in {r["id"] for r in outside.ledger()["snapshot"]["limits"]}
    # The Risk page's utilisation measures the same group.
    row = next(r for r in limit_utilisation(gate.runtime.snapshot) if r["limit_id"] == adopted.pk)
    assert (row["measured"], row["utilisation_pct"], row["breached"]) == (D("50000"), D("66.67"), False)


@pytest.mark.parametrize(
    "params",
    [
        {"instruments": "EUR/USD.SIM,GBP/USD.SIM"},
        {"instruments": ["EUR/USD.SIM"]},
        {"threshold": 1.5},
        {"threshold": "NaN"},
        {"threshold": True},
    ],
)
def test_a_malformed_correlation_group_is_refused_with_the_field_named(params):
    from django.core.exceptions import ValidationError

    from risk.limits import risk_limit_check

    with pytest.raises(ValidationError) as err:
        risk_limit_check(
            {"name": "Group", "kind": "correlation_exposure", "scope": "global", "value": "75000", "params": params}
        )
    assert list(err.value.message_dict) == ["params"]


def test_a_group_the_gate_cannot_read_rejects_every_order_it_could_cover(desk, gate):
    # Written around the validation (a bulk update): the gate must not guess what it covers.
    limit("correlation_exposure", "75000", params={"instruments": "EUR/USD.SIM"})
    gate.runtime.reload()
    assert gate.validate_order_sync(order(desk)).reason_codes == ["GATE_ERROR"]
