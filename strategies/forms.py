"""Forms of the Strategies section. They shape input into a spec; what a valid spec is lives in
``strategies.spec`` / ``strategies.translation`` and every problem is mapped back onto its field."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from strategies.models import FeeModel, OptimisationRun, Strategy, StrategyType
from strategies.spec import BUILTIN_TYPES, PARAMETERS, SPEC_VERSION, ValidationResult

INTEGER_RE = re.compile(r"^-?\d+$")


def param_field_name(spec_type: str, name: str) -> str:
    return f"{spec_type}__{name}"


class StrategyFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *Strategy.Status.choices], required=False)
    strategy_type = forms.ChoiceField(choices=[("", "Any type"), *StrategyType.choices], required=False)
    q = forms.CharField(required=False, max_length=128, label="Name")


class StrategyForm(forms.Form):
    """Create/edit a strategy. Parameters are rendered for every type from the per-type
    table in ``strategies.spec``; only the chosen type's are read (the page swaps them)."""

    name = forms.CharField(max_length=128)
    strategy_type = forms.ChoiceField(choices=StrategyType.choices, label="Type")
    instruments = forms.MultipleChoiceField(choices=(), help_text="Nautilus instrument ids; built-in types trade one.")
    account = forms.ChoiceField(choices=())
    bar_spec = forms.CharField(
        initial="1-MINUTE-MID", max_length=32, label="Bars", help_text='STEP-UNIT-PRICE, e.g. 1-MINUTE-MID, or "tick"'
    )
    risk_budget = forms.CharField(
        label="Risk Limit ($)",
        max_length=32,
        help_text="Loss budget in the account's currency; exhausted, the strategy flattens.",
    )
    max_position = forms.CharField(label="Max position", max_length=32, help_text="In instrument units.")
    allocation = forms.CharField(label="Allocation", max_length=32, help_text="Capital in the account's currency.")
    live_drift_bound = forms.CharField(
        required=False,
        max_length=32,
        label="Live drift bound (pp)",
        help_text="Deploy to Live: the most the simulated return may drift from the backtest's, in percentage "
        "points of the allocation (empty: the desk's default).",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    strategy_path = forms.CharField(
        required=False, max_length=255, label="Strategy class", help_text="package.module:Class (custom only)"
    )
    config_path = forms.CharField(
        required=False, max_length=255, label="Config class", help_text="package.module:ConfigClass (custom only)"
    )
    config = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Config (JSON)",
        help_text="The Nautilus config as JSON primitives (custom only)",
    )
    note = forms.CharField(required=False, max_length=255, help_text="Why this version.")

    def __init__(self, *args, **kwargs):
        from trading.models import Account, Instrument

        super().__init__(*args, **kwargs)
        self.fields["instruments"].choices = [
            (i, i)
            for i in Instrument.objects.filter(tradable=True)
            .order_by("instrument_id")
            .values_list("instrument_id", flat=True)
        ]
        self.fields["account"].choices = [
            (a, a)
            for a in Account.objects.exclude(status=Account.Status.DISABLED)
            .order_by("name")
            .values_list("name", flat=True)
        ]
        for spec_type, params in PARAMETERS.items():
            for param in params:
                self.fields[param_field_name(spec_type, param.name)] = forms.CharField(
                    required=False,
                    max_length=32,
                    label=param.name.replace("_", " ").capitalize(),
                    help_text=f"{param.description} ({param.range_text().removeprefix('must be ')}"
                    f"{'' if param.required else '; optional'})",
                    widget=forms.TextInput(
                        attrs={
                            "data-param-type": spec_type,
                            "placeholder": "" if param.default is None else str(param.default),
                        }
                    ),
                )

    def param_groups(self) -> list[dict[str, Any]]:
        """Per type: its label and its bound parameter fields (for the template)."""
        labels = dict(StrategyType.choices)
        return [
            {"type": t, "label": labels[t], "fields": [self[param_field_name(t, p.name)] for p in PARAMETERS[t]]}
            for t in BUILTIN_TYPES
        ]

    @staticmethod
    def initial_from_spec(spec: dict, strategy: Strategy | None = None) -> dict[str, Any]:
        risk = spec.get("risk") if isinstance(spec.get("risk"), dict) else {}
        initial: dict[str, Any] = {
            "name": strategy.name if strategy else spec.get("name", ""),
            "strategy_type": spec.get("type") or (strategy.strategy_type if strategy else ""),
            "instruments": spec.get("instruments") or [],
            "account": spec.get("account", ""),
            "bar_spec": spec.get("bar_spec", "1-MINUTE-MID"),
            "risk_budget": risk.get("risk_budget", ""),
            "max_position": risk.get("max_position", ""),
            "live_drift_bound": risk.get("live_drift_bound", ""),
            "allocation": spec.get("allocation", ""),
            "description": spec.get("description", ""),
            "strategy_path": spec.get("strategy_path", ""),
            "config_path": spec.get("config_path", ""),
            "config": json.dumps(spec["config"], indent=2) if isinstance(spec.get("config"), dict) else "",
        }
        spec_type = spec.get("type")
        for key, value in (spec.get("parameters") or {}).items() if isinstance(spec.get("parameters"), dict) else ():
            if spec_type in PARAMETERS:
                initial[param_field_name(spec_type, key)] = value
        return initial

    def spec(self) -> dict[str, Any]:
        """The spec the (valid) form describes. Integers typed as integers are sent as JSON integers."""
        data = self.cleaned_data
        spec_type = data["strategy_type"]
        spec: dict[str, Any] = {
            "spec_version": SPEC_VERSION,
            "name": data["name"].strip(),
            "type": spec_type,
        }
        if data.get("description"):
            spec["description"] = data["description"]
        spec.update(
            instruments=list(data["instruments"]),
            bar_spec=data["bar_spec"].strip(),
        )
        if spec_type == "custom":
            spec["strategy_path"] = data.get("strategy_path", "").strip()
            spec["config_path"] = data.get("config_path", "").strip()
            spec["config"] = self._config
        elif spec_type in PARAMETERS:
            parameters: dict[str, Any] = {}
            for param in PARAMETERS[spec_type]:
                raw = (data.get(param_field_name(spec_type, param.name)) or "").strip()
                if raw == "":
                    continue
                parameters[param.name] = int(raw) if param.kind == "integer" and INTEGER_RE.match(raw) else raw
            spec["parameters"] = parameters
        spec["risk"] = {"max_position": data["max_position"].strip(), "risk_budget": data["risk_budget"].strip()}
        if (data.get("live_drift_bound") or "").strip():
            spec["risk"]["live_drift_bound"] = data["live_drift_bound"].strip()
        spec["allocation"] = data["allocation"].strip()
        spec["account"] = data["account"]
        return spec

    def clean(self):
        cleaned = super().clean()
        self._config: Any = {}
        if cleaned.get("strategy_type") == "custom":
            text = (cleaned.get("config") or "").strip()
            try:
                self._config = json.loads(text) if text else {}
            except json.JSONDecodeError as exc:
                self.add_error("config", f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.")
        return cleaned

    def add_problems(self, result: ValidationResult) -> None:
        """Put each spec problem on the field it is about (the rest on the form)."""
        spec_type = self.cleaned_data.get("strategy_type") if hasattr(self, "cleaned_data") else None
        for problem in result.problems:
            field = self.field_for(problem.path, spec_type)
            message = f"{problem.path}: {problem.message}" if field is None and problem.path else problem.message
            if field is not None and field in self.fields:
                self.add_error(field, message)
            else:
                self.add_error(None, message)

    @staticmethod
    def field_for(path: str, spec_type: str | None) -> str | None:
        head = path.split(".")[0].split("[")[0]
        if head == "parameters" and "." in path and spec_type in PARAMETERS:
            return param_field_name(spec_type, path.split(".")[1])
        if head == "risk" and "." in path:
            return path.split(".")[1]
        if head == "type":
            return "strategy_type"
        return {
            "name": "name",
            "instruments": "instruments",
            "account": "account",
            "bar_spec": "bar_spec",
            "allocation": "allocation",
            "description": "description",
            "strategy_path": "strategy_path",
            "config_path": "config_path",
            "config": "config",
        }.get(head)


class ImportForm(forms.Form):
    file = forms.FileField(label="Spec file (JSON)")


class BacktestForm(forms.Form):
    version = forms.TypedChoiceField(coerce=int, choices=())
    # Dates (UTC midnight); the backtest covers [start, end).
    start = forms.DateTimeField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateTimeField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    starting_balance = forms.DecimalField(max_digits=28, decimal_places=10, min_value=0)
    fee_model = forms.ChoiceField(choices=FeeModel.choices, initial=FeeModel.INSTRUMENT)
    fee_per_fill = forms.DecimalField(max_digits=28, decimal_places=10, required=False, min_value=0)
    prob_fill_on_limit = forms.DecimalField(max_digits=6, decimal_places=4, min_value=0, max_value=1, initial=1)
    prob_slippage = forms.DecimalField(max_digits=6, decimal_places=4, min_value=0, max_value=1, initial=0)
    seed = forms.IntegerField(min_value=0, initial=0)

    def __init__(self, *args, strategy: Strategy, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [(v.number, f"v{v.number}") for v in strategy.versions.all()]

    def settings(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "start": d["start"],
            "end": d["end"],
            "starting_balance": d["starting_balance"],
            "fee_model": d["fee_model"],
            "fee_per_fill": d.get("fee_per_fill"),
            "fill_model": {
                "prob_fill_on_limit": str(d["prob_fill_on_limit"]),
                "prob_slippage": str(d["prob_slippage"]),
            },
            "seed": d["seed"],
        }


class OptimisationForm(BacktestForm):
    method = forms.ChoiceField(choices=OptimisationRun.Method.choices, initial=OptimisationRun.Method.GRID)
    space = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Parameter ranges (JSON)",
        help_text='{"bb_period": {"values": [10, 20]}, "bb_std": {"min": "1.5", "max": "2.5", "step": "0.5"}}',
    )
    objective = forms.CharField(initial="sharpe", max_length=32)
    samples = forms.IntegerField(required=False, min_value=1, help_text="Random search only.")

    def clean_space(self):
        try:
            space = json.loads(self.cleaned_data["space"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.")
        if not isinstance(space, dict):
            raise forms.ValidationError("Must be a JSON object of parameter → range.")
        return space
