"""The alert-rule form, shared by the Monitoring pages and the admin (validation is the model's ``clean``)."""

from __future__ import annotations

from django import forms

from monitoring.alerting.rules import RULE_FIELDS
from monitoring.alerting.sources import METRICS
from monitoring.models import AlertRule


class AlertRuleForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(
        choices=AlertRule.Channel.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    # Free text, not a select: a name the desk does not know must reach clean() and be refused there by name.
    metric = forms.CharField(required=False, max_length=64, help_text="One of: " + ", ".join(sorted(METRICS)))

    class Meta:
        model = AlertRule
        fields = RULE_FIELDS  # what a person edits, and what the audit log records
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["metric"].widget.attrs["list"] = "metric-names"
        if self.instance.pk and isinstance(self.instance.channels, list):
            self.initial["channels"] = self.instance.channels

    def clean_channels(self) -> list[str]:
        return list(self.cleaned_data.get("channels") or [])
