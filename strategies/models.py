from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.db import models


class StrategyType(models.TextChoices):
    MEAN_REVERSION = "mean_reversion", "Mean Reversion"
    EMA_CROSS = "ema_cross", "EMA Cross"
    BREAKOUT = "breakout", "Breakout"
    MARKET_MAKER = "market_maker", "Market Maker"
    CUSTOM = "custom", "Custom (import path)"


class Strategy(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        VALIDATED = "validated", "Validated"
        SIMULATION = "simulation", "Running in simulation"
        LIVE = "live", "Running live"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"
        DELETED = "deleted", "Deleted"

    name = models.CharField(max_length=128)
    strategy_type = models.CharField(max_length=32, choices=StrategyType.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    account = models.ForeignKey("trading.Account", null=True, blank=True, on_delete=models.PROTECT)
    current_version = models.ForeignKey(
        "StrategyVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "strategies"
        constraints = [
            # Deleted strategies keep their history but free their name.
            models.UniqueConstraint(fields=["name"], condition=~models.Q(status="deleted"), name="strategy_unique_live_name")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def order_id_tag(self) -> str:
        return f"S{self.pk:04d}"


def spec_hash(spec: dict) -> str:
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class StrategyVersion(models.Model):
    """An immutable snapshot of a strategy's spec. Edits create a new version."""

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    spec = models.JSONField()
    spec_hash = models.CharField(max_length=64, editable=False)
    note = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["strategy", "-number"]
        constraints = [models.UniqueConstraint(fields=["strategy", "number"], name="strategyversion_unique_number")]

    def __str__(self) -> str:
        return f"{self.strategy} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Strategy versions are immutable; create a new version instead.")
        self.spec_hash = spec_hash(self.spec)
        super().save(*args, **kwargs)
