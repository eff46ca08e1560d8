"""Forms of the Execution section: shape and parsing only.

The order ticket's values are judged by ``trading.order_entry.order_request_check``
(one validation for the ticket, the API and signals); these forms only render
the ticket and parse the filters of the history and signals tables.
"""

from __future__ import annotations

import uuid

from django import forms

from trading.models import Account, Instrument, OrderSide, OrderStatus, OrderType, TimeInForce
from trading.signal_router.models import Signal, SignalSource


def _strategy_queryset():
    from strategies.models import Strategy

    return Strategy.objects.exclude(status=Strategy.Status.DELETED).only("id", "name")


class OrderFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=96,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Order id, venue id, instrument"}),
    )
    status = forms.ChoiceField(choices=[("", "Any status"), *OrderStatus.choices], required=False)
    side = forms.ChoiceField(choices=[("", "Any side"), *OrderSide.choices], required=False)
    order_type = forms.ChoiceField(choices=[("", "Any type"), *OrderType.choices], required=False, label="Type")
    instrument = forms.ModelChoiceField(
        queryset=Instrument.objects.only("id", "instrument_id"),
        to_field_name="instrument_id",
        required=False,
        empty_label="Any instrument",
    )
    strategy = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any strategy")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["strategy"].queryset = _strategy_queryset()

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "Must be on or after the From date.")
        return data


class OrderTicketForm(forms.Form):
    """Renders the ticket. Submitted values go to ``order_request_check`` as they are, so
    its field names are the service's (``account``, ``instrument``, ``order_type`` ...)."""

    account = forms.ModelChoiceField(queryset=None, empty_label=None)
    instrument = forms.CharField(
        max_length=96,
        widget=forms.TextInput(
            attrs={
                "list": "ticket-instruments",
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": "Search, e.g. EUR/USD.SIM",
            }
        ),
    )
    side = forms.ChoiceField(choices=OrderSide.choices, initial=OrderSide.BUY, widget=forms.RadioSelect)
    order_type = forms.ChoiceField(choices=OrderType.choices, initial=OrderType.MARKET, label="Type")
    quantity = forms.CharField(
        max_length=40, widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    )
    price = forms.CharField(
        max_length=40,
        required=False,
        label="Limit price",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    trigger_price = forms.CharField(
        max_length=40,
        required=False,
        label="Trigger price",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    time_in_force = forms.ChoiceField(choices=TimeInForce.choices, initial=TimeInForce.GTC, label="Time in force")
    expire_time = forms.CharField(
        required=False, label="Expires (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    reduce_only = forms.BooleanField(required=False, label="Reduce only")
    strategy = forms.ModelChoiceField(queryset=None, required=False, empty_label="No strategy")
    # One key per rendered ticket: a double click (or a retried POST) places one order.
    idempotency_key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = Account.objects.exclude(status=Account.Status.DISABLED).only("id", "name")
        self.fields["strategy"].queryset = _strategy_queryset()
        self.initial.setdefault("idempotency_key", new_ticket_key())


def new_ticket_key() -> str:
    return f"ticket-{uuid.uuid4().hex}"


class SignalFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *Signal.Status.choices], required=False)
    source = forms.ModelChoiceField(
        queryset=SignalSource.objects.only("id", "name"),
        to_field_name="name",
        required=False,
        empty_label="Any source",
    )
