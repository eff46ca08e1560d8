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
            models.UniqueConstraint(
                fields=["name"], condition=~models.Q(status="deleted"), name="strategy_unique_live_name"
            )
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


class FeeModel(models.TextChoices):
    INSTRUMENT = "instrument", "The venue's schedule per asset class"
    ZERO = "zero", "No fees"
    FIXED = "fixed", "Fixed amount per fill"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


FINISHED_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED)
MONEY = {"max_digits": 28, "decimal_places": 10}


class OptimisationRun(models.Model):
    """A search over a version's declared parameter ranges; each trial is a Backtest."""

    class Method(models.TextChoices):
        GRID = "grid", "Grid"
        RANDOM = "random", "Random"

    strategy_version = models.ForeignKey(StrategyVersion, on_delete=models.PROTECT, related_name="optimisations")
    method = models.CharField(max_length=8, choices=Method.choices)
    # {"fast_ema_period": {"values": [5, 10]} | {"min": 5, "max": 20, "step": 5}, ...}
    space = models.JSONField()
    objective = models.CharField(max_length=32, default="sharpe")
    samples = models.PositiveIntegerField(null=True, blank=True, help_text="Random search: how many sets.")
    seed = models.BigIntegerField(default=0)
    # The backtest every trial runs (range, balance, fees, fill model), as backtest_create kwargs.
    backtest_settings = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    total = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(completed__lte=models.F("total")), name="optimisation_completed_within_total"
            )
        ]

    def __str__(self) -> str:
        return f"Optimisation #{self.pk} of {self.strategy_version}"

    @property
    def percent(self) -> int:
        return int(self.completed * 100 / self.total) if self.total else 0


class Backtest(models.Model):
    """One run of one strategy version over a date range; results stored with it."""

    strategy_version = models.ForeignKey(StrategyVersion, on_delete=models.PROTECT, related_name="backtests")
    optimisation = models.ForeignKey(
        OptimisationRun, null=True, blank=True, on_delete=models.CASCADE, related_name="trials"
    )
    # Parameter overrides on top of the version's spec (optimisation trials).
    parameters = models.JSONField(default=dict, blank=True)
    start = models.DateTimeField()
    end = models.DateTimeField()
    venue = models.CharField(max_length=32, help_text="Nautilus venue id the strategy trades on.")
    starting_balance = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=8)
    fee_model = models.CharField(max_length=16, choices=FeeModel.choices, default=FeeModel.INSTRUMENT)
    fee_per_fill = models.DecimalField(**MONEY, null=True, blank=True)
    # Nautilus FillModel: {"prob_fill_on_limit": "1", "prob_slippage": "0"}; its random seed is ``seed``.
    fill_model = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(default=0, help_text="Seeds the synthetic data and the fill model.")

    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    data_source = models.CharField(max_length=16, blank=True, help_text="catalog or synthetic")
    bars = models.PositiveIntegerField(default=0, help_text="Bars (or quotes) fed to the engine.")
    worker = models.CharField(max_length=255, blank=True, help_text="Celery worker that ran it.")
    # {"total_return": "0.0123", "sharpe": "1.2", ...} decimals as strings; see strategies.translation.METRICS.
    statistics = models.JSONField(default=dict, blank=True)
    nautilus_statistics = models.JSONField(default=dict, blank=True)
    # [[iso time, equity], ...] and [[iso time, drawdown fraction], ...], strings for exactness.
    equity_curve = models.JSONField(default=list, blank=True)
    drawdown_curve = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    elapsed_seconds = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="backtest_end_after_start"),
            models.CheckConstraint(condition=models.Q(starting_balance__gt=0), name="backtest_balance_positive"),
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="backtest_progress_percent"),
            models.CheckConstraint(
                condition=~models.Q(fee_model="fixed") | models.Q(fee_per_fill__gte=0),
                name="backtest_fixed_fee_needs_amount",
            ),
        ]
        indexes = [models.Index(fields=["strategy_version", "-created_at"])]

    def __str__(self) -> str:
        return f"Backtest #{self.pk} of {self.strategy_version}"


class BacktestTrade(models.Model):
    """One closed round trip (a Nautilus position from open to close) of a backtest."""

    backtest = models.ForeignKey(Backtest, on_delete=models.CASCADE, related_name="trades")
    instrument_id = models.CharField(max_length=96)
    side = models.CharField(max_length=8, help_text="LONG or SHORT")
    quantity = models.DecimalField(**MONEY)
    entry_price = models.DecimalField(**MONEY)
    exit_price = models.DecimalField(**MONEY, null=True, blank=True)
    realized_pnl = models.DecimalField(**MONEY)
    commissions = models.DecimalField(**MONEY, default=0)
    currency = models.CharField(max_length=8)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["backtest", "opened_at", "id"]
        indexes = [models.Index(fields=["backtest", "opened_at"])]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.instrument_id} ({self.realized_pnl} {self.currency})"


class StrategyDeployment(models.Model):
    """One exact version of a strategy put on the node (simulation) or promoted to live.

    Simulation deployments are ``active`` from the moment the node is told to run
    them until they are stopped (``ended``). A live promotion starts as
    ``pending_approval`` and needs an Admin or Risk Manager (``approved`` or
    ``rejected``); the gate checks that allowed the request are kept in ``checks``.
    """

    class Target(models.TextChoices):
        SIMULATION = "simulation", "Simulation"
        LIVE = "live", "Live"

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"
        PENDING_APPROVAL = "pending_approval", "Waiting for approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="deployments")
    version = models.ForeignKey(StrategyVersion, on_delete=models.PROTECT, related_name="deployments")
    spec_hash = models.CharField(max_length=64)
    target = models.CharField(max_length=16, choices=Target.choices)
    state = models.CharField(max_length=20, choices=State.choices, db_index=True)
    checks = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # The node runs at most one version of a strategy at a time.
            models.UniqueConstraint(
                fields=["strategy"],
                condition=models.Q(target="simulation", state="active"),
                name="deployment_one_active_simulation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.strategy} v{self.version.number} → {self.target} ({self.state})"
