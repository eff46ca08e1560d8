from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from trading.models import PRICE


class Position(models.Model):
    """The book of record: net position per account, instrument and strategy.

    ``quantity`` is signed: positive long, negative short, zero flat.
    """

    account = models.ForeignKey("trading.Account", on_delete=models.PROTECT, related_name="positions")
    instrument = models.ForeignKey("trading.Instrument", on_delete=models.PROTECT, related_name="positions")
    strategy = models.ForeignKey(
        "strategies.Strategy", null=True, blank=True, on_delete=models.PROTECT, related_name="positions"
    )
    quantity = models.DecimalField(**PRICE, default=Decimal("0"))
    avg_price = models.DecimalField(**PRICE, default=Decimal("0"))
    realized_pnl = models.DecimalField(**PRICE, default=Decimal("0"))
    unrealized_pnl = models.DecimalField(**PRICE, default=Decimal("0"))
    commissions = models.DecimalField(**PRICE, default=Decimal("0"))
    mark_price = models.DecimalField(**PRICE, null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "instrument"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "instrument", "strategy"], nulls_distinct=False, name="position_unique_per_book"
            ),
            models.CheckConstraint(condition=Q(avg_price__gte=0), name="position_avg_price_non_negative"),
        ]
        indexes = [models.Index(fields=["account", "instrument"])]

    def __str__(self) -> str:
        return f"{self.account} {self.instrument} {self.quantity}"

    @property
    def side(self) -> str:
        return "LONG" if self.quantity > 0 else "SHORT" if self.quantity < 0 else "FLAT"

    @property
    def notional(self) -> Decimal:
        price = self.mark_price if self.mark_price is not None else self.avg_price
        return abs(self.quantity) * price * self.instrument.multiplier


class CashBalance(models.Model):
    account = models.ForeignKey("trading.Account", on_delete=models.CASCADE, related_name="balances")
    currency = models.CharField(max_length=8)
    total = models.DecimalField(**PRICE, default=Decimal("0"))
    locked = models.DecimalField(**PRICE, default=Decimal("0"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["account", "currency"], name="cashbalance_unique_currency"),
            models.CheckConstraint(condition=Q(locked__gte=0), name="cashbalance_locked_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.total} {self.currency}"

    @property
    def free(self) -> Decimal:
        return self.total - self.locked


class PortfolioSnapshot(models.Model):
    """Equity at a point in time, for the performance history and drawdown."""

    class Kind(models.TextChoices):
        INTRADAY = "intraday", "Intraday"
        DAILY = "daily", "Daily close"

    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.INTRADAY)
    account = models.ForeignKey("trading.Account", null=True, blank=True, on_delete=models.CASCADE)
    currency = models.CharField(max_length=8, default="USD")
    total_value = models.DecimalField(**PRICE)
    cash = models.DecimalField(**PRICE)
    realized_pnl = models.DecimalField(**PRICE, default=Decimal("0"))
    unrealized_pnl = models.DecimalField(**PRICE, default=Decimal("0"))
    daily_pnl = models.DecimalField(**PRICE, default=Decimal("0"))
    gross_exposure = models.DecimalField(**PRICE, default=Decimal("0"))
    net_exposure = models.DecimalField(**PRICE, default=Decimal("0"))

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["account", "kind", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.total_value} {self.currency}"


class Discrepancy(models.Model):
    """A difference between the book and the engine (or F8) for one account and instrument."""

    class Source(models.TextChoices):
        ENGINE = "engine", "Nautilus engine"
        F8 = "f8", "External F8"

    class Resolution(models.TextChoices):
        OPEN = "", "Open"
        CONVERGED = "converged", "Converged by itself"
        ENGINE_WINS = "engine_wins", "Book corrected to the engine (automatic)"
        ACCEPT_ENGINE = "accept_engine", "Book corrected to the engine (by a person)"
        KEEP_BOOK = "keep_book", "Book kept (by a person)"

    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ENGINE)
    account = models.ForeignKey("trading.Account", on_delete=models.CASCADE, related_name="discrepancies")
    instrument = models.ForeignKey("trading.Instrument", on_delete=models.CASCADE, related_name="+")
    book_quantity = models.DecimalField(**PRICE)
    engine_quantity = models.DecimalField(**PRICE)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(auto_now=True)
    # How many consecutive reconciliation runs have seen it; acting on one sighting
    # would "correct" a fill that is merely still on its way through the bridge.
    sightings = models.PositiveIntegerField(default=1)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, default=Resolution.OPEN, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-first_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "account", "instrument"],
                condition=Q(resolution=""),
                name="discrepancy_one_open_per_instrument",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.instrument}: book {self.book_quantity} vs engine {self.engine_quantity}"

    @property
    def is_open(self) -> bool:
        return self.resolution == ""


class F8OutboxItem(models.Model):
    """One item waiting to be (or already) pushed to the external F8 service.

    The durable outbox: the connector enqueues trades and changed positions from
    the book in PostgreSQL, so while F8 is down nothing is lost, and every item
    carries an idempotency key F8 deduplicates on, so a retried push is never
    applied twice. Only the newest state of a position is worth sending: an
    older pending state of the same position is marked superseded.
    """

    class Kind(models.TextChoices):
        TRADE = "trade", "Trade"
        POSITION = "position", "Position"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        SUPERSEDED = "superseded", "Superseded by a newer state"
        REJECTED = "rejected", "Rejected by F8"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Trade: "<client_order_id>:<trade_id>"; position: "<account>:<instrument>:<strategy or ->" (ids).
    subject = models.CharField(max_length=200)
    idempotency_key = models.CharField(max_length=200, unique=True)
    payload = models.JSONField()
    # Hash of the pushed fields of a position, to enqueue only real changes.
    fingerprint = models.CharField(max_length=64, blank=True)
    # The fill id of a trade item (the enqueue watermark).
    source_id = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    f8_result = models.CharField(max_length=16, blank=True, help_text="accepted or duplicate, as F8 answered")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject"], condition=Q(state="pending"), name="f8outbox_one_pending_per_subject"
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "subject", "-id"], name="f8outbox_subject_latest"),
            models.Index(fields=["kind", "-source_id"], name="f8outbox_source_watermark"),
            models.Index(fields=["id"], condition=Q(state="pending"), name="f8outbox_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key} ({self.state})"


class F8Limit(models.Model):
    """A risk limit as the external F8 service holds it, compared with ours.

    Pulled limits are recorded and compared, never copied over our limits: an
    F8 limit stricter than ours (or one we do not have) raises a risk alert for
    a Risk Manager to act on.
    """

    class Comparison(models.TextChoices):
        MATCHES = "matches", "Same as ours"
        STRICTER = "stricter", "F8 is stricter"
        LOOSER = "looser", "F8 is looser"
        MISSING_LOCALLY = "missing_locally", "We have no such limit"
        UNKNOWN_TARGET = "unknown_target", "Target unknown here"

    f8_id = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=16)
    target = models.CharField(max_length=128, blank=True)
    kind = models.CharField(max_length=32)
    value = models.DecimalField(**PRICE)
    currency = models.CharField(max_length=8, blank=True)
    comparison = models.CharField(max_length=16, choices=Comparison.choices)
    local_limit = models.ForeignKey(
        "risk.RiskLimit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    local_value = models.DecimalField(**PRICE, null=True, blank=True)
    pulled_at = models.DateTimeField()

    class Meta:
        ordering = ["scope", "kind", "f8_id"]

    def __str__(self) -> str:
        return f"F8 {self.kind} {self.scope}:{self.target or '-'} = {self.value} ({self.comparison})"


class AttributionLedger(models.Model):
    """How far the attribution's stored days reach (one row).

    Days before ``through`` (UTC) are summed in ``AttributionDay`` and their closing
    position states kept in ``AttributionCheckpoint``; fills from ``through`` on are
    replayed at query time. ``fills`` counts the fills before ``through`` that the
    stored days hold and ``fill_id`` is the highest fill id seen when they were stored,
    so a fill recorded later with an earlier timestamp is noticed and its day rebuilt.
    """

    through = models.DateField(null=True, blank=True)
    fills = models.BigIntegerField(default=0)
    fill_id = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"attribution stored through {self.through}"


class AttributionDay(models.Model):
    """One UTC day's fills per account, instrument, strategy and currency.

    ``realized`` is the gross realised P&L (before commissions) in the instrument's
    settlement currency, on the row of that currency; ``commissions`` are in the row's
    currency; ``fills`` is counted on the settlement currency's row."""

    day = models.DateField()
    account = models.ForeignKey("trading.Account", on_delete=models.CASCADE, related_name="+")
    instrument = models.ForeignKey("trading.Instrument", on_delete=models.CASCADE, related_name="+")
    strategy = models.ForeignKey(
        "strategies.Strategy", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    currency = models.CharField(max_length=8)
    realized = models.DecimalField(**PRICE, default=Decimal("0"))
    commissions = models.DecimalField(**PRICE, default=Decimal("0"))
    fills = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "account", "instrument", "strategy", "currency"],
                nulls_distinct=False,
                name="attributionday_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.instrument_id}/{self.strategy_id}: {self.realized} {self.currency}"


class AttributionCheckpoint(models.Model):
    """The position state (as ``portfolio.book.apply_fill`` leaves it) after the last fill of ``day``,
    for each account, instrument and strategy that traded that day. ``latest`` marks each one's
    newest checkpoint: the state the replay of fills from the ledger's ``through`` starts from."""

    day = models.DateField()
    account = models.ForeignKey("trading.Account", on_delete=models.CASCADE, related_name="+")
    instrument = models.ForeignKey("trading.Instrument", on_delete=models.CASCADE, related_name="+")
    strategy = models.ForeignKey(
        "strategies.Strategy", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    quantity = models.DecimalField(**PRICE)
    avg_price = models.DecimalField(**PRICE)
    realized_pnl = models.DecimalField(**PRICE)
    commissions = models.DecimalField(**PRICE)
    latest = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "instrument", "strategy", "day"],
                nulls_distinct=False,
                name="attributioncheckpoint_unique",
            )
        ]
        indexes = [models.Index(fields=["account"], condition=Q(latest=True), name="attribution_checkpoint_latest")]

    def __str__(self) -> str:
        return f"{self.day} {self.instrument_id}/{self.strategy_id}: {self.quantity} @ {self.avg_price}"
