"""The seed's data generators create what they say, exactly, and a rerun creates nothing new."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.core.management import call_command
from django.db.models import Count

from portfolio.management.commands.setup_test_portfolio import _seed_quotes
from portfolio.models import CashBalance, PortfolioSnapshot, Position
from portfolio.performance import desk_valuation
from strategies.models import Strategy, StrategyType, StrategyVersion
from trading.lifecycle import can_transition
from trading.models import Fill, Order, OrderEvent, OrderStatus


def _run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def _counts() -> dict[str, int]:
    from monitoring.models import AuditLog

    models = (Strategy, StrategyVersion, Order, OrderEvent, Fill, Position, CashBalance, PortfolioSnapshot, AuditLog)
    return {m.__name__: m.objects.count() for m in models}


def _is_multiple(value: Decimal, step: Decimal) -> bool:
    return (value / step) == (value / step).to_integral_value()


def test_create_test_strategies_makes_every_type_with_a_first_version(db, settings):
    from monitoring.management.commands.setup import default_limits_ensure
    from strategies.translation import spec_validate

    settings.MAX_POSITION_SIZE, settings.MAX_DAILY_LOSS = Decimal("100000"), Decimal("5000")
    default_limits_ensure()
    output = _run("create_test_strategies", count=7)
    assert "[7/7] strategies" in output
    strategies = list(Strategy.objects.filter(name__startswith="Demo ").select_related("current_version"))
    assert len(strategies) == 7
    assert {s.strategy_type for s in strategies} == set(StrategyType.values)
    for strategy in strategies:
        version = strategy.current_version
        assert version.number == 1 and strategy.versions.count() == 1
        spec = version.spec
        assert {"spec_version", "name", "type", "instruments", "bar_spec", "risk", "allocation", "account"} <= set(spec)
        assert spec["name"] == strategy.name and spec["type"] == strategy.strategy_type
        assert spec["bar_spec"] == "1-MINUTE-MID" and spec["account"] == "SIM-001"
        assert Decimal(spec["risk"]["max_position"]) > 0 and Decimal(spec["risk"]["risk_budget"]) > 0
        # Every demo spec is valid under the desk's default global limits (and the engine's parsers).
        result = spec_validate(spec, strategy_id=strategy.pk)
        assert result.ok, (strategy.name, result.messages())

    before = _counts()
    assert "0 strategies created, 7 already present" in _run("create_test_strategies", count=7)
    assert _counts() == before
    _run("create_test_strategies", count=9)
    assert Strategy.objects.filter(name__startswith="Demo ").count() == 9


def test_generate_test_data_walks_the_state_machine_on_ticks_and_lots(db):
    output = _run("generate_test_data", orders=40, positions=12)
    assert "[40/40] orders" in output and "[12/12] positions" in output
    generated = Order.objects.filter(client_order_id__startswith="GEN-O-").select_related("instrument")
    assert generated.count() == 40
    assert len({o.status for o in generated}) >= 5
    for order in generated:
        instrument = order.instrument
        assert _is_multiple(order.quantity, instrument.lot_size), order
        if order.price is not None:
            assert _is_multiple(order.price, instrument.tick_size), order
        events = list(order.events.order_by("at", "id"))
        assert events[0].to_status == OrderStatus.PENDING
        for earlier, later in itertools.pairwise(events):
            assert later.from_status == earlier.to_status
            assert can_transition(earlier.to_status, later.to_status), (order, earlier, later)
            assert later.at >= earlier.at
        assert events[-1].to_status == order.status
        fills = list(order.fills.all())
        filled = sum((f.quantity for f in fills), Decimal("0"))
        assert filled == order.filled_quantity
        if order.status == OrderStatus.FILLED:
            assert filled == order.quantity
        elif order.status == OrderStatus.PARTIALLY_FILLED:
            assert Decimal("0") < filled < order.quantity
        else:
            assert not fills
        for fill in fills:
            assert _is_multiple(fill.price, instrument.tick_size) and _is_multiple(fill.quantity, instrument.lot_size)

    openers = Order.objects.filter(client_order_id__startswith="GEN-P-")
    assert openers.count() == 12 and all(o.status == OrderStatus.FILLED for o in openers)
    books = {(o.account_id, o.instrument_id, o.strategy_id) for o in openers}
    assert len(books) == 12
    for account_id, instrument_id, strategy_id in books:
        assert Position.objects.filter(
            account_id=account_id, instrument_id=instrument_id, strategy_id=strategy_id
        ).exists()

    before = _counts()
    assert "0 orders and 0 positions created" in _run("generate_test_data", orders=40, positions=12)
    assert _counts() == before

    _run("generate_test_data", orders=45, positions=12)
    assert Order.objects.filter(client_order_id__startswith="GEN-O-").count() == 45


def test_setup_test_portfolio_builds_a_multi_currency_book_with_history(db):
    output = _run("setup_test_portfolio", days=3, end_date=date(2026, 1, 9))
    assert "snapshots" in output
    currencies = set(CashBalance.objects.filter(account__name="SIM-DEMO").values_list("currency", flat=True))
    assert {"USD", "EUR"} <= currencies
    usd = CashBalance.objects.get(account__name="SIM-DEMO", currency="USD")
    assert usd.total < usd.account.starting_balance  # funded, then paid the opening commissions
    sectors = set(Position.objects.exclude(quantity=0).values_list("instrument__sector__code", flat=True))
    assert {"currencies", "digital-assets", "technology", "financials", "energy"} <= sectors
    assert Position.objects.filter(quantity__lt=0).exists() and Position.objects.filter(quantity__gt=0).exists()

    snapshots = PortfolioSnapshot.objects.all()
    # Every funded account and the whole desk x 3 days x (24 hourly + 1 daily close).
    books = {"SIM-001", "SIM-DEMO", "BINANCE-SPOT", None}
    assert set(snapshots.values_list("account__name", flat=True)) == books
    assert snapshots.count() == len(books) * 3 * 25
    assert snapshots.filter(kind="daily").count() == len(books) * 3
    # The history ends at what the desk is worth now, so today's P&L is today's move, not the
    # accounts the history left out (the desk is several accounts and currencies).
    _, total, _ = desk_valuation(quotes=_seed_quotes())
    last = snapshots.filter(account=None).order_by("-at").first()
    assert last.total_value == total.total_value.quantize(Decimal("0.01"))
    assert last.total_value > Decimal("2000000")  # SIM-001 + SIM-DEMO (USD and EUR) + Binance
    days = {s.at.date() for s in snapshots}
    assert days == {date(2026, 1, 7), date(2026, 1, 8), date(2026, 1, 9)}
    for snap in snapshots.filter(kind="daily"):
        assert snap.total_value == snap.total_value.quantize(Decimal("0.01"))
        assert snap.cash + snap.unrealized_pnl == snap.total_value

    before = _counts()
    again = _run("setup_test_portfolio", days=3, end_date=date(2026, 1, 9))
    assert "0 cash balances, 0 positions, 0 snapshots created" in again
    assert "daily closes: 0 created" in again
    assert _counts() == before


def test_seeded_daily_closes_give_a_fresh_desk_a_var_instead_of_unknown(db):
    """60 closes per instrument, ending yesterday at today's price: the first monitor pass has 59 returns."""
    from risk.models import PriceHistory, RiskMetricSnapshot
    from risk.monitor import risk_monitor_run
    from tests.risk.conftest import set_quote

    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    output = _run("setup_test_portfolio", days=1, end_date=yesterday)
    quoted = set(_seed_quotes())
    per_instrument = PriceHistory.objects.values("instrument__instrument_id").annotate(n=Count("id"))
    assert {row["instrument__instrument_id"] for row in per_instrument} == quoted
    assert {row["n"] for row in per_instrument} == {60}
    assert f"daily closes: {60 * len(quoted)} created" in output
    eur = PriceHistory.objects.get(instrument__instrument_id="EUR/USD.SIM", date=yesterday)
    assert eur.close == _seed_quotes()["EUR/USD.SIM"].mid.quantize(Decimal("0.00001"))

    for instrument_id, quote in _seed_quotes().items():  # what the node publishes once it runs
        set_quote(instrument_id, str(quote.bid), str(quote.ask))
    risk_monitor_run()
    demo = RiskMetricSnapshot.objects.filter(account__name="SIM-DEMO").latest("at")
    assert demo.var_hist_95 > 0 and demo.es_hist_95 >= demo.var_hist_95
    assert {p["history_days"] for p in demo.details["positions"]} == {59}


def test_seed_demo_loads_logins_and_data_once(db):
    from django.contrib.auth import get_user_model

    from monitoring.roles import has_role
    from monitoring.services import DEMO_USERS

    _run("seed_demo")
    users = get_user_model().objects
    for role, (username, password) in DEMO_USERS.items():
        user = users.get(username=username)
        assert user.check_password(password) and has_role(user, role)
    assert Order.objects.filter(client_order_id__startswith="GEN-O-").count() == 100
    assert PortfolioSnapshot.objects.exists() and Strategy.objects.count() >= 10

    before = _counts()
    _run("seed_demo")
    after = _counts()
    # Re-running resets the demo passwords (an audit-free write) and adds no rows.
    assert after == before


def test_show_logins_prints_the_url_and_one_login_per_role():
    from monitoring.services import DEMO_USERS

    output = _run("show_logins", url="http://127.0.0.1:8123/")
    assert "http://127.0.0.1:8123/" in output
    for role, (username, password) in DEMO_USERS.items():
        line = next(line for line in output.splitlines() if f" {username} " in line)
        assert role.label in line and password in line
