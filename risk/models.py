from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from trading.models import PRICE


class Scope(models.TextChoices):
    GLOBAL = "global", "Global"
    ACCOUNT = "account", "Account"
    STRATEGY = "strategy", "Strategy"
    INSTRUMENT = "instrument", "Instrument"
    SECTOR = "sector", "Sector"


SCOPE_FIELDS = {
    Scope.ACCOUNT: "account",
    Scope.STRATEGY: "strategy",
    Scope.INSTRUMENT: "instrument",
    Scope.SECTOR: "sector",
}


def _scope_constraint(prefix: str) -> models.CheckConstraint:
    """Exactly the reference the scope names is set, no other."""
    cases = [
        Q(scope=Scope.GLOBAL, account__isnull=True, strategy__isnull=True, instrument__isnull=True, sector__isnull=True)
    ]
    for scope, field in SCOPE_FIELDS.items():
        others = {f"{other}__isnull": True for other in SCOPE_FIELDS.values() if other != field}
        cases.append(Q(scope=scope, **{f"{field}__isnull": False}, **others))
    condition = cases[0]
    for case in cases[1:]:
        condition |= case
    return models.CheckConstraint(condition=condition, name=f"{prefix}_scope_matches_reference")


class ScopedModel(models.Model):
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.GLOBAL)
    account = models.ForeignKey("trading.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    strategy = models.ForeignKey(
        "strategies.Strategy", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    instrument = models.ForeignKey(
        "trading.Instrument", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    sector = models.ForeignKey("trading.Sector", null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True

    @property
    def scope_target(self):
        field = SCOPE_FIELDS.get(self.scope)
        return getattr(self, field) if field else None

    @property
    def scope_label(self) -> str:
        target = self.scope_target
        return f"{self.get_scope_display()}: {target}" if target is not None else self.get_scope_display()


class RiskLimit(ScopedModel):
    class Kind(models.TextChoices):
        MAX_ORDER_QUANTITY = "max_order_quantity", "Max order quantity"
        MAX_ORDER_NOTIONAL = "max_order_notional", "Max order notional"
        PRICE_BAND_PCT = "price_band_pct", "Price band vs last/mid (%)"
        MAX_POSITION_SIZE = "max_position_size", "Max position size (quantity)"
        MAX_POSITION_NOTIONAL = "max_position_notional", "Max position notional"
        MIN_FREE_BALANCE = "min_free_balance", "Min free balance after order"
        MAX_LEVERAGE = "max_leverage", "Max gross leverage"
        DAILY_LOSS = "daily_loss", "Max daily loss"
        MAX_DRAWDOWN_PCT = "max_drawdown_pct", "Max drawdown from peak (%)"
        CORRELATION_EXPOSURE = "correlation_exposure", "Max correlated-group exposure"
        SECTOR_GROSS_PCT = "sector_gross_pct", "Max sector gross exposure (% of equity)"
        SECTOR_NET_PCT = "sector_net_pct", "Max sector net exposure (% of equity)"
        ORDER_RATE = "order_rate", "Max orders per window"
        MAX_OPEN_ORDERS = "max_open_orders", "Max open orders"
        RISK_BUDGET = "risk_budget", "Strategy risk budget"
        # ``params``: {"allowed": [instrument ids], "blocked": [instrument ids]}; ``value`` is unused (1).
        INSTRUMENT_LIST = "instrument_list", "Allowed/blocked instruments"

    name = models.CharField(max_length=128)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    value = models.DecimalField(**PRICE)
    currency = models.CharField(max_length=8, blank=True, help_text="For money limits; blank means account base.")
    window_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="For rate limits.")
    params = models.JSONField(default=dict, blank=True, help_text="Extra parameters of the check.")
    enabled = models.BooleanField(default=True)
    # Bumped on every change; stored in each decision so it can be replayed.
    version = models.PositiveIntegerField(default=1)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scope", "kind", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="risklimit_value_positive"),
            _scope_constraint("risklimit"),
        ]
        indexes = [models.Index(fields=["enabled", "kind"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.scope_label})"


class KillSwitch(ScopedModel):
    """The current kill-switch state for one scope; history is in KillSwitchEvent."""

    class Mode(models.TextChoices):
        HALT = "halt", "Halt (no new orders)"
        REDUCE_ONLY = "reduce_only", "Reduce only"

    engaged = models.BooleanField(default=False)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.HALT)
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)
    automatic = models.BooleanField(default=False, help_text="Engaged by a breach, not a person.")

    class Meta:
        constraints = [
            _scope_constraint("killswitch"),
            models.UniqueConstraint(
                fields=["scope", "account", "strategy", "instrument", "sector"],
                nulls_distinct=False,
                name="killswitch_one_per_scope",
            ),
        ]

    def __str__(self) -> str:
        state = f"ENGAGED ({self.get_mode_display()})" if self.engaged else "disengaged"
        return f"Kill switch {self.scope_label}: {state}"


class KillSwitchEvent(models.Model):
    kill_switch = models.ForeignKey(KillSwitch, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    engaged = models.BooleanField()
    mode = models.CharField(max_length=16, choices=KillSwitch.Mode.choices)
    reason = models.TextField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    automatic = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{'Engaged' if self.engaged else 'Disengaged'} {self.at or ''}: {self.reason}"[:200]


class RiskDecision(models.Model):
    """The decision ledger: the gate's verdict on one order, replayable."""

    order = models.OneToOneField("trading.Order", on_delete=models.CASCADE, related_name="risk_decision")
    decided_at = models.DateTimeField(auto_now_add=True)
    approved = models.BooleanField()
    # [{"check": name, "passed": bool, "measured": str, "limit": str, "limit_id": int,
    #   "limit_version": int, "reason_code": str, "message": str}, ...]
    checks = models.JSONField(default=list)
    reason_codes = models.JSONField(default=list)
    # The inputs the gate judged (position, exposure, P&L, price, ...).
    snapshot = models.JSONField(default=dict)
    elapsed_us = models.PositiveIntegerField(default=0)
    gate_process = models.CharField(max_length=64, blank=True, help_text="web, worker or node")
    # The order request exactly as the gate judged it (the order may be modified later).
    request = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-decided_at"]
        indexes = [models.Index(fields=["approved", "-decided_at"])]

    def __str__(self) -> str:
        return f"{'APPROVED' if self.approved else 'REJECTED'} {self.order_id}"


class PriceHistory(models.Model):
    """Daily closes per instrument: the history VaR, expected shortfall and correlations use.

    The risk monitor upserts today's close from the live mid on every run; catalog
    imports may backfill older days.
    """

    instrument = models.ForeignKey("trading.Instrument", on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    close = models.DecimalField(**PRICE)

    class Meta:
        ordering = ["instrument", "date"]
        constraints = [
            models.UniqueConstraint(fields=["instrument", "date"], name="pricehistory_unique_day"),
            models.CheckConstraint(condition=Q(close__gt=0), name="pricehistory_close_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.date} {self.close}"


class StressScenario(models.Model):
    """A named set of shocks applied to current positions by the risk monitor and the stress runner.

    ``shocks``: a list of ``{"type": "sector", "target": "<sector code>", "shock_pct": "-5"}``,
    ``{"type": "instrument", "target": "<instrument id>", "shock_pct": "-10"}`` or
    ``{"type": "volatility", "multiplier": "3"}`` (an adverse move of that many daily sigmas).
    """

    name = models.CharField(max_length=128, unique=True)
    description = models.TextField(blank=True)
    shocks = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RiskMetricSnapshot(models.Model):
    """One risk-monitor result per account (``account`` null = the whole desk), kept as history."""

    at = models.DateTimeField(db_index=True)
    account = models.ForeignKey("trading.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    currency = models.CharField(max_length=8, default="USD")
    portfolio_value = models.DecimalField(**PRICE)
    daily_pnl = models.DecimalField(**PRICE, default=0)
    drawdown = models.DecimalField(**PRICE, default=0, help_text="Current drawdown from peak, in money.")
    max_drawdown = models.DecimalField(**PRICE, default=0, help_text="Largest drawdown in the history, in money.")
    peak_value = models.DecimalField(**PRICE, default=0)
    gross_exposure = models.DecimalField(**PRICE, default=0)
    net_exposure = models.DecimalField(**PRICE, default=0)
    var_hist_95 = models.DecimalField(**PRICE, default=0)
    var_hist_99 = models.DecimalField(**PRICE, default=0)
    es_hist_95 = models.DecimalField(**PRICE, default=0)
    es_hist_99 = models.DecimalField(**PRICE, default=0)
    var_param_95 = models.DecimalField(**PRICE, default=0)
    var_param_99 = models.DecimalField(**PRICE, default=0)
    es_param_95 = models.DecimalField(**PRICE, default=0)
    es_param_99 = models.DecimalField(**PRICE, default=0)
    breaches = models.PositiveIntegerField(default=0)
    # {"positions": [{instrument, quantity, value, var_hist_95, ...}], "limits": [utilisation...],
    #  "stress": [{scenario, total, positions: [...]}]}
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["account", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.account_id or 'desk'} {self.portfolio_value}"


# Cache invalidation for the gate's in-memory snapshot (style rule 1 allows signals
# for exactly this): any write to limits, positions or balances is announced on the
# gate channel after commit, whoever made it. Bulk updates bypass signals; the
# gate's periodic full refresh covers them.
def _connect_gate_invalidation() -> None:
    from django.db.models.signals import post_delete, post_save

    from portfolio.models import CashBalance, Position
    from risk.gate import events

    post_save.connect(events.on_limit_saved, sender=RiskLimit, dispatch_uid="risk_gate_limit_saved")
    post_delete.connect(events.on_limit_saved, sender=RiskLimit, dispatch_uid="risk_gate_limit_deleted")
    post_save.connect(events.on_position_saved, sender=Position, dispatch_uid="risk_gate_position_saved")
    post_save.connect(events.on_balance_saved, sender=CashBalance, dispatch_uid="risk_gate_balance_saved")


_connect_gate_invalidation()
