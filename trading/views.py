"""Pages of the Execution section: active orders, order history, one order's timeline."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import Http404
from django.views.generic import TemplateView

from monitoring.pages import SectionPage
from monitoring.roles import Role
from trading import selectors
from trading.models import Instrument, Order, OrderSide, OrderStatus, OrderType


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *OrderStatus.choices], required=False)
    side = forms.ChoiceField(choices=[("", "Any side"), *OrderSide.choices], required=False)
    order_type = forms.ChoiceField(choices=[("", "Any type"), *OrderType.choices], required=False, label="Type")
    instrument = forms.ModelChoiceField(
        queryset=Instrument.objects.all(), to_field_name="instrument_id", required=False, empty_label="Any instrument"
    )
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "Must be on or after the From date.")
        return data


class ExecutionView(SectionPage, TemplateView):
    template_name = "trading/execution.html"
    required_role = Role.VIEWER
    fragments = ("active_orders", "history", "fills")
    page_size = 50

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if not response.context_data["form"].is_valid():
            # Bad filter values are the client's mistake: say which field, with a 400.
            response.status_code = 400
        return response

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        params = self.request.GET.copy()
        for name in ("page", "fragment"):
            params.pop(name, None)
        form = OrderFilterForm(params)
        orders = selectors.order_list(**form.cleaned_data) if form.is_valid() else Order.objects.none()
        page = Paginator(orders, self.page_size).get_page(self.request.GET.get("page"))
        if self.request.GET.get("page") not in (None, "", str(page.number)):
            raise Http404("No such page.")
        ctx.update(
            form=form,
            filters=params.urlencode(),
            page=page,
            orders=page.object_list,
            active_orders=selectors.order_active_list(),
            fills=selectors.fill_recent_list(limit=20),
        )
        return ctx


class OrderDetailView(SectionPage, TemplateView):
    template_name = "trading/order_detail.html"
    required_role = Role.VIEWER
    fragments = ("timeline",)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        try:
            order = selectors.order_detail(pk=kwargs["pk"])
        except Order.DoesNotExist:
            raise Http404("No such order.")
        ctx.update(
            order=order,
            events=order.events.all(),
            fills=order.fills.all(),
            decision=selectors.order_risk_decision(order),
        )
        return ctx
