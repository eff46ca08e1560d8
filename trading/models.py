from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

# Prices and quantities: 28 digits with 10 decimals covers FX pips, crypto
# satoshis and equity notional without floats anywhere in the book.
PRICE = {"max_digits": 28, "decimal_places": 10}
POSITIVE = [MinValueValidator(Decimal("0"))]


class Sector(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Venue(models.Model):
    class Adapter(models.TextChoices):
        SIMULATED = "simulated", "Simulated (offline sandbox)"
        BINANCE_SPOT = "binance_spot", "Binance Spot"
        BINANCE_FUTURES = "binance_futures", "Binance Futures"
        INTERACTIVE_BROKERS = "interactive_brokers", "Interactive Brokers"
        CUSTOM = "custom", "Custom adapter"

    code = models.CharField(max_length=32, unique=True, help_text="Nautilus venue id, e.g. SIM, BINANCE.")
    name = models.CharField(max_length=64)
    adapter = models.CharField(max_length=32, choices=Adapter.choices, default=Adapter.SIMULATED)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Account(models.Model):
    class AccountType(models.TextChoices):
        CASH = "cash", "Cash"
        MARGIN = "margin", "Margin"

    class Status(models.TextChoices):
        CONNECTED = "connected", "Connected"
        DISCONNECTED = "disconnected", "Disconnected"
        DISABLED = "disabled", "Disabled"

    class OmsType(models.TextChoices):
        NETTING = "NETTING", "Netting"
        HEDGING = "HEDGING", "Hedging"

    class ReconciliationPolicy(models.TextChoices):
        ENGINE_WINS = "engine_wins", "Engine wins automatically"
        HOLD = "hold", "Hold for a human"

    name = models.CharField(max_length=64, unique=True)
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="accounts")
    account_type = models.CharField(max_length=16, choices=AccountType.choices, default=AccountType.MARGIN)
    oms_type = models.CharField(max_length=16, choices=OmsType.choices, default=OmsType.NETTING)
    base_currency = models.CharField(max_length=8, default="USD")
    starting_balance = models.DecimalField(**PRICE, default=Decimal("1000000"), validators=POSITIVE)
    leverage = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("1"), validators=POSITIVE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DISCONNECTED)
    status_reason = models.CharField(max_length=255, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    reconciliation_policy = models.CharField(
        max_length=16, choices=ReconciliationPolicy.choices, default=ReconciliationPolicy.ENGINE_WINS
    )
    # Fernet token of a JSON object ({"api_key": ..., "api_secret": ...}); never plain text.
    credentials_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def nautilus_account_id(self) -> str:
        return f"{self.venue.code}-{self.name}"


class Instrument(models.Model):
    class AssetClass(models.TextChoices):
        FX = "fx", "FX"
        CRYPTO = "crypto", "Crypto"
        EQUITY = "equity", "Equity"
        FUTURE = "future", "Future"
        CFD = "cfd", "CFD"

    symbol = models.CharField(max_length=64, help_text="Venue symbol, e.g. EUR/USD or BTCUSDT.")
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="instruments")
    instrument_id = models.CharField(max_length=96, unique=True, help_text="Nautilus id: SYMBOL.VENUE")
    asset_class = models.CharField(max_length=16, choices=AssetClass.choices)
    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, related_name="instruments")
    base_currency = models.CharField(max_length=8, blank=True)
    quote_currency = models.CharField(max_length=8)
    tick_size = models.DecimalField(**PRICE, validators=POSITIVE)
    lot_size = models.DecimalField(**PRICE, validators=POSITIVE)
    min_quantity = models.DecimalField(**PRICE, default=Decimal("0"), validators=POSITIVE)
    max_quantity = models.DecimalField(**PRICE, null=True, blank=True, validators=POSITIVE)
    multiplier = models.DecimalField(**PRICE, default=Decimal("1"), validators=POSITIVE)
    tradable = models.BooleanField(default=True)
    # Reference price the simulated feed starts from when there is no history.
    reference_price = models.DecimalField(**PRICE, null=True, blank=True, validators=POSITIVE)

    class Meta:
        ordering = ["instrument_id"]
        constraints = [
            models.UniqueConstraint(fields=["venue", "symbol"], name="instrument_unique_symbol_per_venue"),
            models.CheckConstraint(condition=Q(tick_size__gt=0), name="instrument_tick_size_positive"),
            models.CheckConstraint(condition=Q(lot_size__gt=0), name="instrument_lot_size_positive"),
        ]
        indexes = [models.Index(fields=["asset_class", "symbol"])]

    def __str__(self) -> str:
        return self.instrument_id

    @property
    def price_precision(self) -> int:
        return max(0, -self.tick_size.normalize().as_tuple().exponent)

    @property
    def size_precision(self) -> int:
        return max(0, -self.lot_size.normalize().as_tuple().exponent)


class OrderSide(models.TextChoices):
    BUY = "BUY", "Buy"
    SELL = "SELL", "Sell"


class OrderType(models.TextChoices):
    MARKET = "MARKET", "Market"
    LIMIT = "LIMIT", "Limit"
    STOP_MARKET = "STOP_MARKET", "Stop market"
    STOP_LIMIT = "STOP_LIMIT", "Stop limit"


class TimeInForce(models.TextChoices):
    GTC = "GTC", "Good till canceled"
    IOC = "IOC", "Immediate or cancel"
    FOK = "FOK", "Fill or kill"
    DAY = "DAY", "Day"
    GTD = "GTD", "Good till date"


class OrderStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    RISK_CHECK = "RISK_CHECK", "Risk check"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected by risk"
    SUBMITTED = "SUBMITTED", "Submitted"
    ACCEPTED = "ACCEPTED", "Accepted"
    PARTIALLY_FILLED = "PARTIALLY_FILLED", "Partially filled"
    FILLED = "FILLED", "Filled"
    CANCELED = "CANCELED", "Canceled"
    EXPIRED = "EXPIRED", "Expired"
    VENUE_REJECTED = "VENUE_REJECTED", "Rejected by venue"


class OrderSource(models.TextChoices):
    UI = "ui", "Order ticket"
    API = "api", "API"
    SIGNAL = "signal", "Signal"
    STRATEGY = "strategy", "Strategy"
    SYSTEM = "system", "System"


class Order(models.Model):
    client_order_id = models.CharField(max_length=64, unique=True)
    venue_order_id = models.CharField(max_length=64, blank=True, db_index=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="orders")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="orders")
    strategy = models.ForeignKey(
        "strategies.Strategy", null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    side = models.CharField(max_length=4, choices=OrderSide.choices)
    order_type = models.CharField(max_length=16, choices=OrderType.choices)
    quantity = models.DecimalField(**PRICE)
    price = models.DecimalField(**PRICE, null=True, blank=True)
    trigger_price = models.DecimalField(**PRICE, null=True, blank=True)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices, default=TimeInForce.GTC)
    expire_time = models.DateTimeField(null=True, blank=True)
    reduce_only = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    filled_quantity = models.DecimalField(**PRICE, default=Decimal("0"))
    avg_fill_price = models.DecimalField(**PRICE, null=True, blank=True)
    source = models.CharField(max_length=16, choices=OrderSource.choices, default=OrderSource.UI)
    status_reason = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=128, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(
                condition=Q(filled_quantity__gte=0) & Q(filled_quantity__lte=F("quantity")),
                name="order_filled_within_quantity",
            ),
            models.CheckConstraint(condition=Q(price__isnull=True) | Q(price__gt=0), name="order_price_positive"),
            models.CheckConstraint(
                condition=Q(trigger_price__isnull=True) | Q(trigger_price__gt=0),
                name="order_trigger_price_positive",
            ),
            models.CheckConstraint(
                condition=~Q(order_type__in=["LIMIT", "STOP_LIMIT"]) | Q(price__isnull=False),
                name="order_limit_needs_price",
            ),
            models.CheckConstraint(
                condition=~Q(order_type__in=["STOP_MARKET", "STOP_LIMIT"]) | Q(trigger_price__isnull=False),
                name="order_stop_needs_trigger",
            ),
            models.CheckConstraint(
                condition=~Q(time_in_force="GTD") | Q(expire_time__isnull=False), name="order_gtd_needs_expiry"
            ),
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="order_idempotency_key_per_user",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["account", "status"]),
            models.Index(fields=["instrument", "-created_at"]),
            models.Index(fields=["strategy", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.client_order_id} {self.side} {self.quantity} {self.instrument_id}"

    @property
    def leaves_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def is_open(self) -> bool:
        from trading.lifecycle import OPEN_STATUSES

        return self.status in OPEN_STATUSES


class OrderEvent(models.Model):
    """One row per lifecycle transition: the order's timeline."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    from_status = models.CharField(max_length=16, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=OrderStatus.choices)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["order", "at"])]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '-'} -> {self.to_status}"


class Fill(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    trade_id = models.CharField(max_length=64)
    quantity = models.DecimalField(**PRICE)
    price = models.DecimalField(**PRICE)
    commission = models.DecimalField(**PRICE, default=Decimal("0"))
    commission_currency = models.CharField(max_length=8, blank=True)
    liquidity_side = models.CharField(max_length=8, blank=True)
    ts_event = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ts_event", "-id"]
        constraints = [
            # A replayed venue fill is the same fill: idempotent per (order, trade id).
            models.UniqueConstraint(fields=["order", "trade_id"], name="fill_unique_trade_per_order"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="fill_quantity_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="fill_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.trade_id} {self.quantity}@{self.price}"


# Signals live in their own module; imported here so Django registers them with this app.
from trading.signal_router.models import Signal, SignalRoute, SignalSource  # noqa: E402, F401
