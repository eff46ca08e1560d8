"""VaR/ES against a hand-computed reference; the monitor's history, alerts and automatic kill switch."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from risk import metrics
from tests.risk.conftest import limit, position, set_quote

# 40 P&L scenarios: -100, -80, -60, -40, then 36 values of +10.
PNL = [D(-100), D(-80), D(-60), D(-40)] + [D(10)] * 36


def test_historical_var_and_es_match_the_hand_computed_reference():
    # k95 = ceil(40 * 0.05) = 2 worst: -100, -80 -> VaR 80, ES 90; k99 = ceil(0.4) = 1 -> VaR 100, ES 100.
    assert metrics.historical_var(PNL, D("0.95")) == D(80)
    assert metrics.historical_es(PNL, D("0.95")) == D(90)
    assert metrics.historical_var(PNL, D("0.99")) == D(100)
    assert metrics.historical_es(PNL, D("0.99")) == D(100)


def test_parametric_var_and_es_match_the_hand_computed_reference():
    pnl = [D(-2), D(-1), D(0), D(1), D(2)]  # mean 0, sample variance 10/4 = 2.5
    sd = math.sqrt(2.5)
    assert abs(float(metrics.parametric_var(pnl, D("0.95"))) - 1.6448536269514715 * sd) < 1e-12
    assert abs(float(metrics.parametric_var(pnl, D("0.99"))) - 2.3263478740408408 * sd) < 1e-12
    assert abs(float(metrics.parametric_es(pnl, D("0.95"))) - 2.062712807507429 * sd) < 1e-12
    assert abs(float(metrics.parametric_es(pnl, D("0.99"))) - 2.665214220345806 * sd) < 1e-12


def test_returns_drawdown_and_stress_by_hand():
    assert metrics.simple_returns([D(100), D(110), D(99)]) == [D("0.1"), D("-0.1")]
    assert metrics.max_drawdown([D(100), D(120), D(90), D(130), D(117)]) == (D(30), D(25))
    shocks = [
        {"type": "sector", "target": "currencies", "shock_pct": "-5"},
        {"type": "instrument", "target": "EUR/USD.SIM", "shock_pct": "-1"},
        {"type": "volatility", "multiplier": "2"},
    ]
    # value 10,000: -6% = -600, minus 2 sigma (0.01) of 10,000 = -200.
    assert metrics.stress_position_pnl(
        value=D(10000), instrument_id="EUR/USD.SIM", sector="currencies", sigma=D("0.01"), shocks=shocks
    ) == D(-800)
    assert metrics.validate_shocks([{"type": "sector", "shock_pct": "x"}]) == [
        "shocks[0].shock_pct: must be a finite number (shock_pct within ±100, multiplier > 0)",
        "shocks[0].target: is required",
    ]


def test_correlation_matrix_finds_the_correlated_pair():
    a = [D("0.01"), D("-0.02"), D("0.03"), D("-0.01")]
    b = [x * 2 for x in a]
    c = [D("0.01"), D("0.01"), D("-0.01"), D("0.02")]
    m = metrics.correlation_matrix({"A": a, "B": b, "C": c}, min_abs=0.9)
    assert m == {"A": {"B": 1.0}, "B": {"A": 1.0}}


def _history(instrument, closes):
    from risk.models import PriceHistory

    today = datetime.now(UTC).date()
    for i, close in enumerate(closes):
        PriceHistory.objects.create(instrument=instrument, date=today - timedelta(days=len(closes) - i), close=D(close))


def test_monitor_stores_var_of_a_position_from_price_history(desk):
    from risk.models import RiskMetricSnapshot
    from risk.monitor import risk_monitor_run

    # Closes 1.25 -> returns +4%, -4%, +2%, -5% ... 21 closes, 20 returns; position 100,000 at 1.25 = 125,000 USD.
    closes = ["1.25", "1.30", "1.248", "1.27296", "1.209312"] + ["1.209312"] * 16
    _history(desk["eur"], closes)
    position(desk, "100000")
    result = risk_monitor_run()
    assert result["accounts"] >= 1
    snap = RiskMetricSnapshot.objects.get(account=desk["account"])
    returns = metrics.simple_returns([D(c) for c in closes])
    pnl = [D(125000) * r for r in returns]
    # k95 = ceil(20 * 0.05) = 1: the worst day, -5% of 125,000 = 6,250.
    assert snap.var_hist_95 == D("6250.0000")
    assert snap.var_hist_95 == metrics.historical_var(pnl, D("0.95")).quantize(D("0.0001"))
    assert snap.var_param_99 == metrics.parametric_var(pnl, D("0.99")).quantize(D("0.0001"))
    positions = snap.details["positions"]
    assert positions[0]["instrument"] == "EUR/USD.SIM" and positions[0]["var_hist_95"] == "6250.0000"
    assert snap.portfolio_value == D("1000000.0000")


def test_breach_raises_exactly_one_alert_per_incident_and_engages_the_kill_switch(desk):
    from monitoring.models import Alert
    from monitoring.redis_client import redis_client
    from risk.models import KillSwitch
    from risk.monitor import risk_monitor_run

    limit("daily_loss", "1000", scope="account", account=desk["account"])
    position(desk, "100000", avg="1.30")  # marked at 1.25: -5,000
    for _ in range(3):
        risk_monitor_run()
    alerts = Alert.objects.filter(category="risk")
    assert alerts.count() == 1
    alert = alerts.get()
    assert alert.severity == "critical"
    # Figures as a person reads them, not 5000.0000000000.
    assert alert.message.endswith(": 5,000 vs limit 1,000"), alert.message
    assert alert.title.startswith("Risk limit breached: daily_loss (account ") and " )" not in alert.title
    ks = KillSwitch.objects.get(scope="account", account=desk["account"])
    assert ks.engaged and ks.automatic and ks.reason.startswith("Automatic: daily_loss")
    assert redis_client().hget("ni:risk:monitor", "state") == b"breach"

    # The breach clears: the incident is resolved; a new breach is a new alert.
    set_quote("EUR/USD.SIM", "1.30")
    risk_monitor_run()
    assert Alert.objects.get(pk=alert.pk).status == "resolved"
    set_quote("EUR/USD.SIM", "1.25")
    risk_monitor_run()
    assert Alert.objects.filter(category="risk").count() == 2


def test_an_unpriced_position_makes_equity_limits_unknown_not_breached_and_engages_no_kill_switch(
    desk, client, role_users
):
    """At start-up, before the feeds quote, cash alone (after buying) read as a large daily loss and
    the monitor halted the account. Unknown is not breached; the gate refuses the account's orders meanwhile."""
    from monitoring.models import Alert
    from monitoring.redis_client import redis_client
    from risk.gate.loader import snapshot_load
    from risk.gate.utilisation import limit_utilisation
    from risk.models import KillSwitch, RiskMetricSnapshot
    from risk.monitor import risk_monitor_run
    from tests.factories import password_for

    loss = limit("daily_loss", "1000", scope="account", account=desk["account"])
    size = limit("max_position_size", "1000000")
    position(desk, "100000", avg="1.30")
    redis_client().hdel("ni:quotes", "EUR/USD.SIM")  # no price for the position yet

    rows = {r["limit_id"]: r for r in limit_utilisation(snapshot_load())}
    assert rows[loss.pk]["measured"] is None and rows[loss.pk]["unknown"] and not rows[loss.pk]["breached"]
    assert "valuation incomplete" in rows[loss.pk]["where"]
    assert rows[size.pk]["utilisation_pct"] == D("10.00")  # quantities need no price
    risk_monitor_run()
    assert not Alert.objects.filter(category="risk").exists()
    assert not KillSwitch.objects.filter(engaged=True).exists()
    # No value recorded for it either: cash alone would be a false trough in its drawdown history.
    assert not RiskMetricSnapshot.objects.filter(account=desk["account"]).exists()
    assert client.login(username="risk", password=password_for("risk"))
    assert "not valued: SIM-001" in client.get("/risk/").content.decode()

    set_quote("EUR/USD.SIM", "1.25")  # priced: -5,000 is a real breach
    risk_monitor_run()
    assert KillSwitch.objects.get(scope="account", account=desk["account"]).engaged
    assert RiskMetricSnapshot.objects.get(account=desk["account"]).portfolio_value == D("995000.0000")
    assert "not valued" not in client.get("/risk/").content.decode()


def test_limit_utilisation_for_every_limit(desk):
    from risk.gate.loader import snapshot_load
    from risk.gate.utilisation import limit_utilisation

    position(desk, "50000")
    a = limit("max_position_size", "100000")
    b = limit("max_order_quantity", "5000")
    rows = {r["limit_id"]: r for r in limit_utilisation(snapshot_load())}
    assert rows[a.pk]["utilisation_pct"] == D("50.00") and not rows[a.pk]["breached"]
    assert rows[b.pk]["utilisation_pct"] is None


def test_monitor_task_runs_on_a_real_worker(desk, celery_worker):
    from risk.models import RiskMetricSnapshot
    from risk.tasks import risk_monitor
    from tests.risk.conftest import wait_until

    risk_monitor.delay()
    wait_until(lambda: RiskMetricSnapshot.objects.exists(), timeout=30, what="a risk snapshot from the worker")


def test_the_risk_page_says_var_is_unknown_before_any_daily_close(desk, client, role_users):
    """A VaR of 0 on an open position would read as "no risk": without closes it is unknown."""
    from risk.monitor import risk_monitor_run
    from tests.factories import password_for

    position(desk, "100000")
    risk_monitor_run()
    assert client.login(username="risk", password=password_for("risk"))
    page = client.get("/risk/").content.decode()
    assert 'data-testid="var-no-history"' in page and "unknown, not zero" in page

    _history(desk["eur"], ["1.25", "1.30", "1.248", "1.27296", "1.209312"])
    risk_monitor_run()
    page = client.get("/risk/").content.decode()
    assert 'data-testid="var-no-history"' not in page
    assert "from only 4 daily returns" in page
