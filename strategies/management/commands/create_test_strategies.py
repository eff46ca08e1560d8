"""``manage.py create_test_strategies --count 10``: demo strategies of every type.

Each gets a first version holding a valid spec (docs/strategies.md): spec_version,
name, type, instruments, bar_spec, parameters (or a custom strategy's import paths
and config), risk, allocation and account.
Strategies are named ``Demo <Type> NN``; a rerun creates only the missing
numbers, so ``--count 10`` twice leaves ten.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from monitoring.management.commands._progress import progress
from strategies.models import Strategy, StrategyType

ACCOUNT = "SIM-001"
BAR_SPEC = "1-MINUTE-MID"
TYPES = list(StrategyType)

# Per type: the instrument it trades, its parameters and its largest position in
# instrument units — each sized to stay within the default global notional limit
# (MAX_POSITION_SIZE, 100,000 USD) at the instrument's reference price. Trade sizes
# are whole lots (FX 1 000, equities in shares, BTC in 0.00001).
TEMPLATES: dict[str, dict] = {
    StrategyType.EMA_CROSS: {
        "instruments": ["EUR/USD.SIM"],
        "parameters": {"fast_ema_period": 10, "slow_ema_period": 20, "trade_size": "10000"},
        "max_position": "50000",
    },
    StrategyType.MEAN_REVERSION: {
        "instruments": ["GBP/USD.SIM"],
        "parameters": {
            "bb_period": 20,
            "bb_std": "2.0",
            "rsi_period": 14,
            "rsi_buy": 30,
            "rsi_sell": 70,
            "trade_size": "10000",
        },
        "max_position": "50000",
    },
    StrategyType.BREAKOUT: {
        "instruments": ["BTC/USD.SIM"],
        "parameters": {"lookback_bars": 55, "atr_period": 14, "atr_stop_multiple": "2.5", "trade_size": "0.05000"},
        "max_position": "1",
    },
    StrategyType.MARKET_MAKER: {
        "instruments": ["AAPL.SIM"],
        "parameters": {"spread_bps": "5", "trade_size": "100", "max_inventory": "400", "refresh_seconds": 5},
        "max_position": "400",
    },
    StrategyType.CUSTOM: {
        "instruments": ["USD/JPY.SIM"],
        "strategy_path": "nautilus_trader.examples.strategies.ema_cross:EMACross",
        "config_path": "nautilus_trader.examples.strategies.ema_cross:EMACrossConfig",
        "config": {
            "instrument_id": "USD/JPY.SIM",
            "bar_type": f"USD/JPY.SIM-{BAR_SPEC}-EXTERNAL",
            "fast_ema_period": 8,
            "slow_ema_period": 34,
            "trade_size": "5000",
            "request_bars": False,
            "subscribe_trade_ticks": False,
        },
        "max_position": "50000",
    },
}


def demo_strategy_name(number: int) -> str:
    strategy_type = TYPES[(number - 1) % len(TYPES)]
    return f"Demo {strategy_type.label} {number:02d}"


def demo_spec(number: int) -> tuple[str, dict]:
    """A spec that passes ``strategies.translation.spec_validate`` on the default reference data."""
    strategy_type = TYPES[(number - 1) % len(TYPES)]
    template = TEMPLATES[strategy_type]
    # Budgets step with the number so the demo book is not ten identical rows; they stay
    # within the default daily loss limit (MAX_DAILY_LOSS, 5,000 USD).
    step = Decimal((number - 1) % 10)
    spec: dict = {
        "spec_version": 1,
        "name": demo_strategy_name(number),
        "type": strategy_type.value,
        "instruments": list(template["instruments"]),
        "bar_spec": BAR_SPEC,
        "risk": {"max_position": template["max_position"], "risk_budget": str(Decimal("1000") + step * 250)},
        # Capital in the account's currency; ten demo strategies together stay within SIM-001.
        "allocation": str(Decimal("50000") + step * 5000),
        "account": ACCOUNT,
    }
    if strategy_type == StrategyType.CUSTOM:
        spec.update(
            strategy_path=template["strategy_path"],
            config_path=template["config_path"],
            config=dict(template["config"]),
        )
    else:
        spec["parameters"] = dict(template["parameters"])
    return strategy_type.value, spec


def demo_strategies_ensure(count: int, *, write=lambda line: None) -> list[Strategy]:
    """Create ``Demo ... 01`` to ``NN`` where missing; returns the ``count`` strategies in number order."""
    from strategies.services import strategy_create
    from trading.models import Account
    from trading.services import reference_data_ensure

    reference_data_ensure()
    account = Account.objects.get(name=ACCOUNT)
    strategies = []
    created = 0
    for number in progress(range(1, count + 1), total=count, label="strategies", write=write):
        name = demo_strategy_name(number)
        strategy = Strategy.objects.exclude(status=Strategy.Status.DELETED).filter(name=name).first()
        if strategy is None:
            strategy_type, spec = demo_spec(number)
            strategy = strategy_create(
                name=name,
                strategy_type=strategy_type,
                spec=spec,
                account=account,
                user=None,
                note="Demo data (create_test_strategies)",
                via="system",
            )
            created += 1
        strategies.append(strategy)
    write(f"{created} strategies created, {count - created} already present")
    return strategies


class Command(BaseCommand):
    help = "Create demo strategies of every type, each with a first version (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=10, help="How many demo strategies should exist.")

    def handle(self, *args, count: int, **options):
        if count < 0 or count > 999:
            raise CommandError("--count must be between 0 and 999.")
        demo_strategies_ensure(count, write=self.stdout.write)
