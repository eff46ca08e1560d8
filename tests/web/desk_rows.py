"""Real rows in every table a section page shows, so the pages are tested with data, not only empty states."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from monitoring.audit import audit_record
from monitoring.models import Alert
from portfolio.models import CashBalance, PortfolioSnapshot, Position
from risk.models import KillSwitch, KillSwitchEvent, RiskDecision, RiskLimit
from strategies.models import Strategy, StrategyVersion
from tests.factories import make_order
from trading.lifecycle import order_transition
from trading.models import Account, Fill, Instrument, Order


@dataclass
class DeskRows:
    order: Order
    rejected: Order
    strategy: Strategy
    position: Position
    alert: Alert
    limit: RiskLimit


def make_desk_rows(user=None) -> DeskRows:
    strategy = Strategy.objects.create(
        name="EURUSD mean reversion", strategy_type="mean_reversion", status="simulation"
    )
    version = StrategyVersion.objects.create(strategy=strategy, number=1, spec={"fast": 10, "slow": 30}, note="first")
    strategy.current_version = version
    strategy.save(update_fields=["current_version"])

    order = make_order(client_order_id="O-WEB-000001", order_type="LIMIT", price=Decimal("1.085"), strategy=strategy)
    for status in ("RISK_CHECK", "APPROVED", "SUBMITTED", "ACCEPTED"):
        order_transition(order, status, message=f"to {status.lower()}")
    RiskDecision.objects.create(
        order=order,
        approved=True,
        checks=[
            {
                "check": "max_order_quantity",
                "passed": True,
                "measured": "10000",
                "limit": "1000000",
                "limit_id": 1,
                "limit_version": 3,
                "reason_code": "",
                "message": "",
            }
        ],
        reason_codes=[],
        elapsed_us=412,
        gate_process="web",
    )
    order_transition(
        order,
        "PARTIALLY_FILLED",
        update_fields={"filled_quantity": Decimal("4000"), "avg_fill_price": Decimal("1.08501")},
    )
    Fill.objects.create(
        order=order,
        trade_id="T-WEB-1",
        quantity=Decimal("4000"),
        price=Decimal("1.08501"),
        commission=Decimal("0.87"),
        commission_currency="USD",
        ts_event=timezone.now(),
    )

    rejected = make_order(client_order_id="O-WEB-000002", side="SELL", quantity=Decimal("5000000"))
    order_transition(rejected, "RISK_CHECK")
    RiskDecision.objects.create(order=rejected, approved=False, reason_codes=["MAX_ORDER_QUANTITY"], checks=[])
    order_transition(rejected, "REJECTED", message="over max order quantity")

    account = Account.objects.get(name="SIM-001")
    position = Position.objects.create(
        account=account,
        instrument=Instrument.objects.get(instrument_id="EUR/USD.SIM"),
        strategy=strategy,
        quantity=Decimal("4000"),
        avg_price=Decimal("1.08501"),
        mark_price=Decimal("1.08523"),
        unrealized_pnl=Decimal("0.88"),
        opened_at=timezone.now(),
    )
    CashBalance.objects.create(account=account, currency="USD", total=Decimal("999999.13"))
    PortfolioSnapshot.objects.create(
        at=timezone.now() - timedelta(minutes=1),
        total_value=Decimal("1000000.01"),
        cash=Decimal("999999.13"),
        daily_pnl=Decimal("-12.34"),
    )
    limit = RiskLimit.objects.create(name="Global max order qty", kind="max_order_quantity", value=Decimal("1000000"))
    ks = KillSwitch.objects.create(scope="global", engaged=False, reason="drill over")
    KillSwitchEvent.objects.create(kill_switch=ks, engaged=True, mode="halt", reason="drill")
    alert = Alert.objects.create(severity="critical", category="risk", title="Daily loss at 91% of limit")
    audit_record(actor=user, action="risk_limit.update", obj=limit, changes={"value": ["900000", "1000000"]})
    return DeskRows(order=order, rejected=rejected, strategy=strategy, position=position, alert=alert, limit=limit)
