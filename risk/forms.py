"""Forms of the Risk page. They only shape input: the rules live in ``risk.limits`` and
``risk.killswitch``, whose ``ValidationError`` (keyed by field) lands on the same fields."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from risk.models import KillSwitch, RiskLimit, Scope


class LimitForm(forms.Form):
    """Add or edit a limit. ``value`` stays text so the exact decimal typed reaches the service."""

    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=RiskLimit.Kind.choices)
    scope = forms.ChoiceField(choices=Scope.choices, initial=Scope.GLOBAL)
    account = forms.ModelChoiceField(queryset=None, required=False)
    strategy = forms.ModelChoiceField(queryset=None, required=False)
    instrument = forms.ModelChoiceField(queryset=None, required=False)
    sector = forms.ModelChoiceField(queryset=None, required=False)
    value = forms.CharField(max_length=64)
    currency = forms.CharField(max_length=16, required=False)
    window_seconds = forms.CharField(max_length=16, required=False)
    params = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "{}"}))
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, **kwargs) -> None:
        from strategies.models import Strategy
        from trading.models import Account, Instrument, Sector

        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = Account.objects.order_by("name")
        self.fields["strategy"].queryset = Strategy.objects.exclude(status="deleted").order_by("name")
        self.fields["instrument"].queryset = Instrument.objects.order_by("instrument_id")
        self.fields["sector"].queryset = Sector.objects.order_by("code")

    def clean_params(self) -> dict:
        raw = (self.cleaned_data.get("params") or "").strip()
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValidationError(f"params must be JSON: {exc}") from None

    @classmethod
    def initial_for(cls, limit: RiskLimit) -> dict[str, Any]:
        return {
            "name": limit.name,
            "kind": limit.kind,
            "scope": limit.scope,
            "account": limit.account_id,
            "strategy": limit.strategy_id,
            "instrument": limit.instrument_id,
            "sector": limit.sector_id,
            "value": format(limit.value.normalize(), "f"),
            "currency": limit.currency,
            "window_seconds": limit.window_seconds or "",
            "params": json.dumps(limit.params) if limit.params else "",
            "enabled": limit.enabled,
        }

    def service_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in self.fields}

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put the service's per-field messages on the fields (unknown keys on the form)."""
        for field, messages in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


class KillSwitchForm(forms.Form):
    """Engage or release one scope. ``confirmed`` is the second step: without it the view only
    shows what would happen (and the flatten orders) and asks again."""

    ACTIONS = (("engage", "Engage"), ("disengage", "Disengage"))

    action = forms.ChoiceField(choices=ACTIONS)
    scope = forms.ChoiceField(choices=Scope.choices, initial=Scope.GLOBAL)
    target = forms.CharField(required=False, max_length=128, help_text="account/strategy/sector id or instrument id")
    mode = forms.ChoiceField(choices=KillSwitch.Mode.choices, initial=KillSwitch.Mode.HALT)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    cancel_open = forms.BooleanField(required=False)
    flatten = forms.BooleanField(required=False)
    confirmed = forms.BooleanField(required=False)

    def clean_reason(self) -> str:
        reason = (self.cleaned_data.get("reason") or "").strip()
        if not reason:
            raise ValidationError("A reason is required.")
        return reason

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("flatten") and data.get("action") == "engage" and data.get("mode") == KillSwitch.Mode.HALT:
            # A halt refuses every new order, the flatten orders included.
            self.add_error("flatten", "Flattening needs reduce-only mode: a halt refuses the flatten orders too.")
        if data.get("flatten") and data.get("action") == "disengage":
            self.add_error("flatten", "Flatten goes with engaging (reduce-only), not with releasing.")
        return data


class StressRunForm(forms.Form):
    scenario = forms.ModelChoiceField(queryset=None)

    def __init__(self, *args, **kwargs) -> None:
        from risk.models import StressScenario

        super().__init__(*args, **kwargs)
        self.fields["scenario"].queryset = StressScenario.objects.all()
