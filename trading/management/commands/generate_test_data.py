"""``manage.py generate_test_data --orders 100 --positions 50``: a plausible trading history.

Orders walk the real state machine (``trading.lifecycle``) to a realistic mix
of terminal and open statuses, each leaving its ``OrderEvent`` timeline; fills
go through ``trading.services.order_fill_record``, so orders, fills, positions
and cash agree exactly as they do for live trading. Prices sit on the
instrument's tick and quantities on its lot, in Decimals.

Generated rows are tagged by their client order id: ``GEN-O-000001`` for the
order history, ``GEN-P-000001`` for the order that opened generated position
number 1. Row n is derived from a seed of n alone, so a rerun finds the rows it
made before and only tops up (``--orders 150`` after ``--orders 100`` adds 50).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from monitoring.management.commands._progress import progress
from strategies.models import Strategy
from trading.lifecycle import order_record_created, order_transition
from trading.models import Account, Instrument, Order, OrderEvent, OrderStatus, OrderType, TimeInForce

S = OrderStatus
ACCOUNT = "SIM-DEMO"  # the disabled demo account (see trading/reference_data.py)
ORDER_PREFIX = "GEN-O-"
POSITION_PREFIX = "GEN-P-"
HISTORY_DAYS = 5
COMMISSION_RATE = Decimal("0.00002")  # 0.2 bp of notional
CENT = Decimal("0.01")

# Final status -> weight: mostly filled, some working, the rest refused or gone.
STATUS_WEIGHTS = {
    S.FILLED: 40,
    S.PARTIALLY_FILLED: 8,
    S.ACCEPTED: 10,
    S.SUBMITTED: 4,
    S.CANCELED: 14,
    S.EXPIRED: 5,
    S.REJECTED: 12,
    S.VENUE_REJECTED: 7,
}
# The lifecycle path to each final status (fills are applied after ACCEPTED).
PATHS = {
    S.FILLED: [S.RISK_CHECK, S.APPROVED, S.SUBMITTED, S.ACCEPTED],
    S.PARTIALLY_FILLED: [S.RISK_CHECK, S.APPROVED, S.SUBMITTED, S.ACCEPTED],
    S.ACCEPTED: [S.RISK_CHECK, S.APPROVED, S.SUBMITTED, S.ACCEPTED],
    S.SUBMITTED: [S.RISK_CHECK, S.APPROVED, S.SUBMITTED],
    S.CANCELED: [S.RISK_CHECK, S.APPROVED, S.SUBMITTED, S.ACCEPTED, S.CANCELED],
    S.EXPIRED: [S.RISK_CHECK, S.APPROVED, S.SUBMITTED, S.ACCEPTED, S.EXPIRED],
    S.REJECTED: [S.RISK_CHECK, S.REJECTED],
    S.VENUE_REJECTED: [S.RISK_CHECK, S.APPROVED, S.SUBMITTED, S.VENUE_REJECTED],
}
MESSAGES = {
    S.RISK_CHECK: "Pre-trade risk check started",
    S.APPROVED: "Approved by the risk gate",
    S.SUBMITTED: "Sent to the node",
    S.ACCEPTED: "Accepted by SIM",
    S.CANCELED: "Canceled by trader",
    S.EXPIRED: "Expired at end of day",
}
REJECT_REASONS = [
    "max_order_notional: order notional exceeds the global limit",
    "price_band_pct: limit price more than 5% away from the mid",
    "daily_loss: the account's daily loss limit is used up",
    "kill_switch: trading is halted",
]
VENUE_REJECT_REASONS = ["SIM: insufficient margin", "SIM: price outside the trading band", "SIM: market closed"]


def on_tick(price: Decimal, tick: Decimal) -> Decimal:
    return ((price / tick).to_integral_value(rounding=ROUND_HALF_EVEN) * tick).quantize(tick)


def on_lot(quantity: Decimal, instrument: Instrument) -> Decimal:
    lots = (quantity / instrument.lot_size).to_integral_value(rounding=ROUND_DOWN)
    qty = (lots * instrument.lot_size).quantize(instrument.lot_size)
    return max(qty, instrument.min_quantity or instrument.lot_size, instrument.lot_size)


def quantity_for_notional(instrument: Instrument, notional_usd: Decimal, price: Decimal) -> Decimal:
    # USD-based pairs (USD/JPY) are sized in USD already; everything else in units of price.
    units = notional_usd if instrument.base_currency == "USD" else notional_usd / price
    return on_lot(units, instrument)


def commission_for(quantity: Decimal, price: Decimal, instrument: Instrument) -> Decimal:
    return (quantity * price * instrument.multiplier * COMMISSION_RATE).quantize(CENT)


def _reference(instrument: Instrument) -> Decimal:
    return instrument.reference_price or Decimal("100")


def _spread_times(order: Order, start: datetime, gaps: list[float]) -> None:
    """Give the order and its timeline the historical times they would have had."""
    Order.objects.filter(pk=order.pk).update(created_at=start)
    at = start
    for event, gap in zip(order.events.order_by("id"), [0.0, *gaps], strict=False):
        at = at + timedelta(seconds=gap)
        OrderEvent.objects.filter(pk=event.pk).update(at=at)


def _fill(order: Order, *, quantity: Decimal, price: Decimal, trade_id: str, at: datetime) -> None:
    from trading.services import FillReport, order_fill_record

    order_fill_record(
        FillReport(
            client_order_id=order.client_order_id,
            trade_id=trade_id,
            last_qty=quantity,
            last_px=price,
            commission=commission_for(quantity, price, order.instrument),
            commission_currency=order.instrument.quote_currency,
            liquidity_side="TAKER" if order.order_type == OrderType.MARKET else "MAKER",
            ts_event=at,
            venue_order_id=order.venue_order_id or f"SIM-{order.pk}",
        )
    )
    order.refresh_from_db()


@transaction.atomic
def generated_order_create(
    *,
    client_order_id: str,
    rng: random.Random,
    account: Account,
    instrument: Instrument,
    strategy,
    final: str,
    side: str,
    notional_usd: Decimal,
    start: datetime,
) -> Order:
    """One order walked through the state machine to ``final``, with fills where it has them."""
    ref = _reference(instrument)
    price = on_tick(ref * (1 + Decimal(rng.randint(-150, 150)) / 10000), instrument.tick_size)
    quantity = quantity_for_notional(instrument, notional_usd, price)
    # Market orders fill or are refused at once; anything left working rests as a limit order.
    working = final in (S.ACCEPTED, S.SUBMITTED, S.PARTIALLY_FILLED, S.CANCELED, S.EXPIRED)
    kind = OrderType.LIMIT if working or rng.random() < 0.3 else OrderType.MARKET
    if final == S.PARTIALLY_FILLED and quantity <= instrument.lot_size:
        quantity = quantity + instrument.lot_size
    limit_price = None
    if kind == OrderType.LIMIT:
        # Resting bids below the market, offers above.
        offset = Decimal(rng.randint(5, 60)) / 10000
        limit_price = on_tick(price * (1 - offset if side == "BUY" else 1 + offset), instrument.tick_size)
    tif = TimeInForce.DAY if final == S.EXPIRED else TimeInForce.GTC if kind == OrderType.LIMIT else TimeInForce.IOC
    order = Order.objects.create(
        client_order_id=client_order_id,
        account=account,
        instrument=instrument,
        strategy=strategy,
        side=side,
        order_type=kind,
        quantity=quantity,
        price=limit_price,
        time_in_force=tif,
        source="strategy" if strategy is not None else "ui",
    )
    order_record_created(order)
    gaps = []
    for status in PATHS[final]:
        extra = {}
        if status == S.ACCEPTED or (status == S.VENUE_REJECTED):
            extra = {"venue_order_id": f"SIM-{order.pk}"}
        message = MESSAGES.get(status, "")
        if status == S.REJECTED:
            message = rng.choice(REJECT_REASONS)
        elif status == S.VENUE_REJECTED:
            message = rng.choice(VENUE_REJECT_REASONS)
        order_transition(order, status, message=message, update_fields=extra)
        gaps.append(round(rng.uniform(0.001, 0.05), 3) if status != S.CANCELED else rng.uniform(30, 3600))
    fill_price = limit_price or price
    at = start + timedelta(seconds=sum(gaps) + 0.01)
    if final == S.FILLED:
        parts = 1 if kind == OrderType.MARKET or quantity <= instrument.lot_size else rng.choice([1, 1, 2, 3])
        remaining = quantity
        for n in range(1, parts + 1):
            qty = remaining if n == parts else on_lot(quantity / parts, instrument)
            qty = min(qty, remaining)
            _fill(order, quantity=qty, price=fill_price, trade_id=f"{client_order_id}-T{n}", at=at)
            remaining -= qty
            gaps.append(0.2)
            at += timedelta(seconds=0.2)
            if remaining <= 0:
                break
    elif final == S.PARTIALLY_FILLED:
        qty = on_lot(quantity / 2, instrument)
        if qty >= quantity:
            qty = quantity - instrument.lot_size
        _fill(order, quantity=qty, price=fill_price, trade_id=f"{client_order_id}-T1", at=at)
        gaps.append(0.2)
    _spread_times(order, start, gaps)
    return order


def _history_start(rng: random.Random, now: datetime) -> datetime:
    return now - timedelta(seconds=rng.uniform(60, HISTORY_DAYS * 86400))


def generated_orders_ensure(count: int, *, strategies: list, write) -> int:
    from portfolio.management.commands.setup_test_portfolio import cash_balances_ensure

    cash_balances_ensure()
    account = Account.objects.get(name=ACCOUNT)
    instruments = list(Instrument.objects.filter(venue=account.venue, tradable=True).order_by("instrument_id"))
    existing = set(
        Order.objects.filter(client_order_id__startswith=ORDER_PREFIX).values_list("client_order_id", flat=True)
    )
    now = timezone.now()
    statuses, weights = zip(*STATUS_WEIGHTS.items(), strict=True)
    created = 0
    for n in progress(range(1, count + 1), total=count, label="orders", write=write):
        client_order_id = f"{ORDER_PREFIX}{n:06d}"
        if client_order_id in existing:
            continue
        rng = random.Random(f"order-{n}")
        generated_order_create(
            client_order_id=client_order_id,
            rng=rng,
            account=account,
            instrument=rng.choice(instruments),
            strategy=rng.choice([None, *strategies]) if strategies else None,
            final=rng.choices(statuses, weights)[0],
            side=rng.choice(["BUY", "SELL"]),
            notional_usd=Decimal(rng.randrange(2_000, 40_000, 500)),
            start=_history_start(rng, now),
        )
        created += 1
    return created


def position_opening_ensure(
    *,
    client_order_id: str,
    account: Account,
    instrument: Instrument,
    strategy,
    side: str,
    notional_usd: Decimal,
    rng: random.Random,
    start: datetime,
) -> bool:
    """Open (or add to) a position with one filled market order; False when that order already exists."""
    if Order.objects.filter(client_order_id=client_order_id).exists():
        return False
    generated_order_create(
        client_order_id=client_order_id,
        rng=rng,
        account=account,
        instrument=instrument,
        strategy=strategy,
        final=S.FILLED,
        side=side,
        notional_usd=notional_usd,
        start=start,
    )
    return True


def generated_positions_ensure(count: int, *, write) -> int:
    """Position n sits in slot n: instrument n mod N, demo strategy n div N (one book per strategy)."""
    from strategies.management.commands.create_test_strategies import demo_strategies_ensure

    account = Account.objects.get(name=ACCOUNT)
    instruments = list(Instrument.objects.filter(venue=account.venue, tradable=True).order_by("instrument_id"))
    if not instruments:
        raise CommandError("No tradable instruments: run `manage.py setup --init-db` first.")
    needed = -(-count // len(instruments))
    strategies = demo_strategies_ensure(needed) if count else []
    now = timezone.now()
    created = 0
    for n in progress(range(1, count + 1), total=count, label="positions", write=write):
        index = n - 1
        rng = random.Random(f"position-{n}")
        made = position_opening_ensure(
            client_order_id=f"{POSITION_PREFIX}{n:06d}",
            account=account,
            instrument=instruments[index % len(instruments)],
            strategy=strategies[index // len(instruments)],
            side=rng.choice(["BUY", "BUY", "SELL"]),
            notional_usd=Decimal(rng.randrange(5_000, 60_000, 1_000)),
            rng=rng,
            start=_history_start(rng, now),
        )
        created += made
    return created


class Command(BaseCommand):
    help = "Generate orders (with timelines and fills) and positions for demos and tests (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=100, help="How many generated orders should exist.")
        parser.add_argument("--positions", type=int, default=50, help="How many generated positions should exist.")

    def handle(self, *args, orders: int, positions: int, **options):
        for name, value in (("--orders", orders), ("--positions", positions)):
            if value < 0 or value > 100_000:
                raise CommandError(f"{name} must be between 0 and 100000.")
        from trading.services import reference_data_ensure

        reference_data_ensure()
        write = self.stdout.write
        made_positions = generated_positions_ensure(positions, write=write)
        # Orders are spread over whatever demo strategies exist (and manual trading).
        strategies = list(
            Strategy.objects.exclude(status=Strategy.Status.DELETED).filter(name__startswith="Demo ").order_by("name")
        )
        made_orders = generated_orders_ensure(orders, strategies=strategies, write=write)
        write(
            self.style.SUCCESS(
                f"{made_orders} orders and {made_positions} positions created "
                f"({orders - made_orders} and {positions - made_positions} already present)"
            )
        )
