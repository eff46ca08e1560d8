"""Simulation vs backtest: the performance comparison (page, API) and the Deploy to Live drift check.

The simulated side is the strategy's fills in the book of record; the backtest side is a stored
backtest of the same spec hash. Both are written here as the pipeline writes them (orders and
fills through the ORM, a succeeded backtest row with its equity curve), so the figures are known.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from monitoring.roles import Role
from tests.factories import make_order
from tests.strategies_ui.conftest import make_strategy, seed_spec

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def simulated(strategy, *, since: timedelta = 3 * DAY):
    """Put the strategy in simulation since ``since`` ago, with a round trip of 10,000 EUR/USD losing 20 USD."""
    from strategies.models import Strategy, StrategyDeployment
    from trading.models import Fill

    version = strategy.current_version
    start = timezone.now() - since
    Strategy.objects.filter(pk=strategy.pk).update(status="simulation")
    deployment = StrategyDeployment.objects.create(
        strategy=strategy, version=version, spec_hash=version.spec_hash, target="simulation", state="active"
    )
    StrategyDeployment.objects.filter(pk=deployment.pk).update(started_at=start)
    for n, (side, price) in enumerate((("BUY", "1.10000"), ("SELL", "1.09800")), start=1):
        order = make_order(strategy=strategy, side=side, source="strategy", status="FILLED")
        Fill.objects.create(
            order=order,
            trade_id=f"T-{strategy.pk}-{n}",
            quantity=Decimal("10000"),
            price=Decimal(price),
            ts_event=start + n * timedelta(hours=1),
        )
    strategy.refresh_from_db()
    deployment.refresh_from_db()
    return deployment


def backtested(strategy, *, start: timedelta = 4 * DAY, end: timedelta = DAY, curve: bool = True):
    """A succeeded backtest of the current version from ``start`` ago to ``end`` ago, on a 1,000,000 USD
    balance, that loses 15 USD over the last three days of its range."""
    from strategies.models import Backtest

    now = timezone.now()
    points = [
        (now - start, "1000000.00"),
        (now - 3 * DAY, "1000000.00"),
        (now - 2 * DAY, "999990.00"),
        (now - end, "999985.00"),
    ]
    return Backtest.objects.create(
        strategy_version=strategy.current_version,
        start=now - start,
        end=now - end,
        venue="SIM",
        starting_balance=Decimal("1000000"),
        currency="USD",
        status="succeeded",
        data_source="synthetic",
        equity_curve=[[at.isoformat(), value] for at, value in points] if curve else [],
        finished_at=now,
    )


@pytest.fixture
def gate_settings(settings):
    settings.STRATEGY_LIVE_MIN_SIMULATION_SECONDS = 3600
    return settings


def test_comparison_puts_both_returns_on_the_allocation_over_the_common_window(role_users):
    from strategies.comparison import performance_compare

    strategy = make_strategy(role_users[Role.TRADER], seed_spec())  # allocation 50,000 USD
    deployment = simulated(strategy)
    backtest = backtested(strategy)
    result = performance_compare(strategy=strategy)
    assert result.ok, result.problems
    assert result.deployment == deployment and result.backtest == backtest
    assert (result.start, result.end) == (deployment.started_at, backtest.end)
    assert result.simulated_pnl == Decimal("-20") and result.backtest_pnl == Decimal("-15")
    assert result.simulated_return_pp == Decimal("-0.04") and result.backtest_return_pp == Decimal("-0.03")
    assert result.drift_pp == Decimal("0.01") and result.fills == 2
    assert result.simulated_curve[0][1] == result.backtest_curve[0][1] == Decimal("50000")
    assert result.simulated_curve[-1][1] == Decimal("49980") and result.backtest_curve[-1][1] == Decimal("49985")


def test_drift_within_the_default_bound_lets_the_promotion_through(client_for, role_users, gate_settings):
    from strategies.deployment import live_gate_checks
    from strategies.models import StrategyDeployment

    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    simulated(strategy)
    backtested(strategy)
    drift = {c.name: c for c in live_gate_checks(strategy)}["drift"]
    assert drift.ok
    assert "simulated return -0.04%" in drift.detail and "-0.03%" in drift.detail
    assert "drift 0.01 pp within 0.50 pp" in drift.detail
    assert client_for(Role.TRADER).post(f"/strategies/{strategy.pk}/live-request/").status_code == 302
    promotion = StrategyDeployment.objects.get(strategy=strategy, target="live")
    assert {"name": "drift", "ok": True, "detail": drift.detail} in promotion.checks


def test_drift_beyond_the_declared_bound_refuses_the_promotion(client_for, role_users, gate_settings):
    from strategies.models import StrategyDeployment

    spec = seed_spec(risk={"max_position": "50000", "risk_budget": "1000", "live_drift_bound": "0.005"})
    strategy = make_strategy(role_users[Role.TRADER], spec)
    simulated(strategy)
    backtested(strategy)
    response = client_for(Role.TRADER).post(f"/strategies/{strategy.pk}/live-request/")
    html = response.content.decode()
    assert response.status_code == 400
    assert "live.drift" in html and "drift 0.01 pp beyond 0.005 pp (declared by the spec" in html
    assert "live.backtest" not in html and "live.simulation" not in html
    assert not StrategyDeployment.objects.filter(strategy=strategy, target="live").exists()


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        (lambda s: simulated(s), "no completed backtest of"),
        (lambda s: (simulated(s), backtested(s, curve=False)), "stored no equity curve"),
        (lambda s: (simulated(s), backtested(s, start=10 * DAY, end=5 * DAY)), "no completed backtest of"),
        (lambda s: (simulated(s, since=2 * timedelta(hours=1) + DAY), backtested(s)), "needs 1.0 days"),
    ],
    ids=["no-backtest", "no-curve", "backtest-before-the-run", "window-too-short"],
)
def test_missing_data_fails_the_drift_check_closed(role_users, settings, setup, says):
    from strategies.deployment import live_gate_checks, strategy_live_request

    settings.STRATEGY_LIVE_MIN_SIMULATION_SECONDS = 86400
    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    setup(strategy)
    drift = {c.name: c for c in live_gate_checks(strategy)}["drift"]
    assert not drift.ok and says in drift.detail
    with pytest.raises(Exception) as refused:
        strategy_live_request(strategy=strategy, user=role_users[Role.TRADER])
    assert "live.drift" in refused.value.message_dict


def test_missing_backtest_names_the_backtest_to_run(role_users, gate_settings):
    from strategies.deployment import live_gate_checks

    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    deployment = simulated(strategy)
    drift = {c.name: c for c in live_gate_checks(strategy)}["drift"]
    assert f"run a backtest of v1 from {deployment.started_at:%Y-%m-%d %H:%M} to " in drift.detail


def test_the_drift_bound_is_declared_on_the_form_and_validated(client_for):
    from strategies.deployment import live_drift_bound
    from strategies.models import Strategy
    from tests.strategies_ui.test_pages import SEED_FORM

    client = client_for(Role.TRADER)
    bad = client.post("/strategies/new/", {**SEED_FORM, "live_drift_bound": "0", "action": "save"})
    assert bad.status_code == 400 and "greater than 0 and at most 100" in bad.content.decode()
    assert not Strategy.objects.exists()
    assert (
        client.post("/strategies/new/", {**SEED_FORM, "live_drift_bound": "0.25", "action": "save"}).status_code == 302
    )
    version = Strategy.objects.get().current_version
    assert version.spec["risk"]["live_drift_bound"] == "0.25"
    assert live_drift_bound(version) == (Decimal("0.25"), "declared by the spec")


def test_performance_page_charts_both_curves(client_for, role_users):
    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    simulated(strategy)
    backtest = backtested(strategy)
    viewer = client_for(Role.VIEWER)
    response = viewer.get(f"/strategies/{strategy.pk}/performance/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-comparable="true"' in html and "performance-chart" in html and "chart.umd.min.js" in html
    assert "-0.04%" in html and "-0.03%" in html and "0.01 pp" in html and f"#{backtest.pk}" in html
    assert f"/strategies/{strategy.pk}/performance/" in viewer.get(f"/strategies/{strategy.pk}/").content.decode()


def test_performance_page_says_why_nothing_compares_and_refuses_foreign_ids(client_for, role_users):
    trader = role_users[Role.TRADER]
    strategy = make_strategy(trader, seed_spec())
    other = make_strategy(trader, seed_spec("Other"))
    foreign = backtested(other)
    viewer = client_for(Role.VIEWER)
    html = viewer.get(f"/strategies/{strategy.pk}/performance/").content.decode()
    assert 'data-comparable="false"' in html and "has not run any version in simulation" in html
    response = viewer.get(f"/strategies/{strategy.pk}/performance/?backtest={foreign.pk}")
    assert response.status_code == 400 and f"backtest: #{foreign.pk} is not a backtest of" in response.content.decode()
    response = viewer.get(f"/strategies/{strategy.pk}/performance/?deployment=x")
    assert response.status_code == 400 and "deployment: must be the id of a deployment" in response.content.decode()


def test_performance_api_returns_the_figures_and_curves(role_users):
    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    deployment = simulated(strategy)
    backtest = backtested(strategy)
    api = APIClient()
    api.force_authenticate(role_users[Role.VIEWER])
    body = api.get(f"/api/v1/strategies/{strategy.pk}/performance/").json()
    assert body["comparable"] and body["problems"] == []
    assert (body["deployment"], body["backtest"], body["spec_hash"]) == (
        deployment.pk,
        backtest.pk,
        deployment.spec_hash,
    )
    assert Decimal(body["simulated_return_pp"]) == Decimal("-0.04") and Decimal(body["drift_pp"]) == Decimal("0.01")
    assert body["simulated_curve"][0][1] == "50000" and Decimal(body["backtest_curve"][-1][1]) == Decimal("49985")
    response = api.get(f"/api/v1/strategies/{strategy.pk}/performance/?backtest=abc")
    assert response.status_code == 400 and "backtest" in response.json()
    missing = api.get(f"/api/v1/strategies/{strategy.pk}/performance/?backtest={backtest.pk + 1000}")
    assert missing.status_code == 400 and "is not a backtest of" in str(missing.json())
