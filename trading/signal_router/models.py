"""Signals and their routing (imported by trading/models.py so they belong to the trading app)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from trading.models import PRICE, Account, Instrument, Order, OrderSide


class SignalSource(models.Model):
    """Who may send signals: a webhook sender (HMAC secret) or an API client, acting for a desk user."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=255, blank=True)
    enabled = models.BooleanField(default=True)
    # Fernet token of the HMAC secret (trading.credentials); never plain text.
    secret_encrypted = models.TextField(blank=True, editable=False)
    # Orders from this source are placed on behalf of this user (a Trader), for audit and permissions.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signal_sources")
    allowed_instruments = models.ManyToManyField(
        Instrument, blank=True, related_name="+", help_text="Empty means every instrument."
    )
    dedup_window_seconds = models.PositiveIntegerField(default=60)
    max_age_seconds = models.PositiveIntegerField(default=30, help_text="Signals older than this are stale.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SignalRoute(models.Model):
    """An editable routing rule: which signals go to which account, and how they are sized.

    The most specific enabled rules with the lowest priority number win; rules of
    one ``group`` at that priority are equivalent and share the load."""

    class Sizing(models.TextChoices):
        FROM_SIGNAL = "from_signal", "Quantity from the signal"
        FIXED = "fixed", "Fixed quantity"
        TARGET_POSITION = "target_position", "Trade to the signal's target position"
        SCALED = "scaled", "Signal quantity × scale × strength"  # noqa: RUF001 (the label's typography)

    class Balance(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Round robin"
        LEAST_EXPOSURE = "least_exposure", "Least exposure"

    name = models.CharField(max_length=128)
    enabled = models.BooleanField(default=True)
    priority = models.PositiveIntegerField(default=100, help_text="Lower is tried first.")
    group = models.CharField(max_length=64, default="default")
    source = models.ForeignKey(SignalSource, null=True, blank=True, on_delete=models.CASCADE, related_name="routes")
    strategy = models.ForeignKey(
        "strategies.Strategy", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    instrument = models.ForeignKey(Instrument, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="signal_routes")
    sizing = models.CharField(max_length=16, choices=Sizing.choices, default=Sizing.FROM_SIGNAL)
    fixed_quantity = models.DecimalField(**PRICE, null=True, blank=True)
    scale = models.DecimalField(**PRICE, default=Decimal("1"))
    balance = models.CharField(max_length=16, choices=Balance.choices, default=Balance.ROUND_ROBIN)

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(sizing="fixed") | Q(fixed_quantity__gt=0), name="route_fixed_needs_quantity"
            ),
            models.CheckConstraint(condition=Q(scale__gt=0), name="route_scale_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.account}"


class Signal(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        EXECUTED = "executed", "Order placed"
        SUPPRESSED = "suppressed", "Suppressed"
        PARKED = "parked", "Parked (no route available)"
        REJECTED = "rejected", "Rejected"

    source = models.ForeignKey(SignalSource, on_delete=models.PROTECT, related_name="signals")
    external_id = models.CharField(max_length=128, blank=True)
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4, choices=OrderSide.choices, blank=True)
    quantity = models.DecimalField(**PRICE, null=True, blank=True)
    target_position = models.DecimalField(**PRICE, null=True, blank=True)
    strength = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("1"))
    strategy = models.ForeignKey(
        "strategies.Strategy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ttl_seconds = models.PositiveIntegerField(null=True, blank=True)
    signal_time = models.DateTimeField(help_text="When the sender created it.")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    dedup_hash = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    reason = models.TextField(blank=True)
    route = models.ForeignKey(SignalRoute, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="signals")
    # The routing decision: candidates considered, why each was skipped, which one won.
    routing = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["source", "dedup_hash", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.source} {self.side} {self.instrument} ({self.status})"
