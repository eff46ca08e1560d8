"""Pages and JSON endpoints of the Execution section.

Pages: the Execution page (order ticket, active orders, history, fills), one
order's page, the Signals page. Endpoints used by the ticket and the tables
(``static/js/execution.js``): check-as-you-type, risk preview, place, cancel,
modify, cancel-all, and the streamed CSV export of the history.

Views stay thin: validation and every write are in ``trading.order_entry``;
what the ticket shows before submit is in ``trading.order_preview``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from monitoring.audit import audit_record
from monitoring.pages import SectionPage
from monitoring.roles import Role, RoleRequiredMixin, has_role
from trading import selectors
from trading.forms import OrderFilterForm, OrderTicketForm, SignalFilterForm, new_ticket_key
from trading.models import Order, OrderSource
from trading.order_entry import (
    OrderActionRefused,
    order_cancel,
    order_modify,
    order_request_check,
    order_submit,
    orders_cancel_all,
)
from trading.order_preview import order_preview, ticket_check
from trading.services import order_payload

# Fields the ticket posts; anything else in the body is ignored.
TICKET_FIELDS = (
    "account",
    "instrument",
    "side",
    "order_type",
    "quantity",
    "price",
    "trigger_price",
    "time_in_force",
    "expire_time",
    "reduce_only",
    "strategy",
    "idempotency_key",
)


def _filter_params(request) -> Any:
    params = request.GET.copy()
    for name in ("page", "fragment"):
        params.pop(name, None)
    return params


def _errors(exc: ValidationError) -> dict[str, str]:
    if hasattr(exc, "error_dict"):
        return {field: " ".join(messages) for field, messages in exc.message_dict.items()}
    return {"__all__": " ".join(exc.messages)}


def _ticket_data(request) -> dict[str, Any]:
    data = {name: request.POST.get(name, "") for name in TICKET_FIELDS}
    data["reduce_only"] = request.POST.get("reduce_only", "") in ("1", "true", "on", "yes")
    if data["time_in_force"] != "GTD":
        # The ticket keeps the expiry box filled while another TIF is picked; only GTD sends it.
        data["expire_time"] = ""
    for name in ("price", "trigger_price"):
        # Hidden boxes for the chosen type are not part of the order.
        if name not in _PRICE_FIELDS.get(str(data["order_type"]).upper(), (name,)):
            data[name] = ""
    return data


_PRICE_FIELDS = {
    "MARKET": (),
    "LIMIT": ("price",),
    "STOP_MARKET": ("trigger_price",),
    "STOP_LIMIT": ("price", "trigger_price"),
}


class ExecutionView(SectionPage, TemplateView):
    template_name = "trading/execution.html"
    required_role = Role.VIEWER
    fragments = ("active_orders", "history", "fills")
    page_size = 50
    filter_form = "form"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        params = _filter_params(self.request)
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
        fragment = self.request.GET.get("fragment")
        if fragment is None and has_role(self.request.user, Role.TRADER):
            ctx.update(
                ticket=OrderTicketForm(initial={"account": selectors.ticket_default_account(self.request.user)}),
                instruments=selectors.ticket_instruments(),
            )
        return ctx


class OrderDetailView(SectionPage, TemplateView):
    template_name = "trading/order_detail.html"
    required_role = Role.VIEWER
    # ``progress``: the compact status and timeline the ticket's result panel shows.
    fragments = ("timeline", "progress")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        try:
            order = selectors.order_detail(pk=kwargs["pk"])
        except Order.DoesNotExist:
            raise Http404("No such order.")
        events = list(order.events.all())
        ctx.update(
            order=order,
            events=events,
            venue_events=[e for e in events if e.data],
            fills=order.fills.all(),
            decision=selectors.order_risk_decision(order),
        )
        return ctx


class SignalsView(SectionPage, TemplateView):
    template_name = "trading/signals.html"
    required_role = Role.VIEWER
    fragments = ("signals",)
    page_size = 50
    filter_form = "form"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        params = _filter_params(self.request)
        form = SignalFilterForm(params)
        signals = selectors.signal_list(**form.cleaned_data) if form.is_valid() else selectors.signal_list().none()
        page = Paginator(signals, self.page_size).get_page(self.request.GET.get("page"))
        if self.request.GET.get("page") not in (None, "", str(page.number)):
            raise Http404("No such page.")
        ctx.update(
            form=form,
            filters=params.urlencode(),
            page=page,
            signals=page.object_list,
            routes=selectors.signal_route_list(),
        )
        return ctx


class OrderExportView(RoleRequiredMixin, View):
    """The filtered history as CSV, streamed: the whole book, not one page of it."""

    required_role = Role.VIEWER

    def get(self, request):
        form = OrderFilterForm(_filter_params(request))
        if not form.is_valid():
            return JsonResponse({"errors": {f: " ".join(m) for f, m in form.errors.items()}}, status=400)
        rows = selectors.order_export_rows(selectors.order_list(**form.cleaned_data))
        audit_record(actor=request.user, action="order.export", message=f"filters: {form.data.urlencode()}"[:2000])
        lines = _csv_lines(rows)
        # Under ASGI (daphne) Django would read a sync iterator to the end before sending
        # anything; hand it an async one that reads the rows in blocks instead.
        content = _async_blocks(lines) if isinstance(request, ASGIRequest) else lines
        response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.csv"'
        return response


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


EXPORT_BLOCK_LINES = 500


async def _async_blocks(lines: Iterator[str]):
    # thread_sensitive: every block runs on the request's one sync thread, so the
    # server-side cursor behind the rows stays on its own database connection.
    take = sync_to_async(lambda: list(islice(lines, EXPORT_BLOCK_LINES)), thread_sensitive=True)
    while block := await take():
        yield "".join(block)


class _TraderAction(RoleRequiredMixin, View):
    """JSON endpoints of the ticket and the order tables. Reading the ticket's answers
    needs Trader too: a Viewer has no ticket. Anything but POST is 405."""

    required_role = Role.TRADER
    http_method_names = ["post"]


class TicketCheckView(_TraderAction):
    """Validate as the trader types: field errors (400) or the ticket's context (200)."""

    def post(self, request):
        result = ticket_check(data=_ticket_data(request), user=request.user)
        body = {k: v for k, v in result.items() if k != "request"}
        return JsonResponse(body, status=200 if result["ok"] else 400)


class TicketPreviewView(_TraderAction):
    """Which limits the order as typed would hit, without placing or reserving anything."""

    def post(self, request):
        result = ticket_check(data=_ticket_data(request), user=request.user)
        body = {k: v for k, v in result.items() if k != "request"}
        if not result["ok"]:
            return JsonResponse(body, status=400)
        body["preview"] = order_preview(request=result["request"])
        return JsonResponse(body)


def _order_body(order: Order) -> dict[str, Any]:
    body = order_payload(order)
    body["url"] = reverse("order-detail", args=[order.pk])
    decision = selectors.order_risk_decision(order)
    body["checks"] = decision.checks if decision else []
    body["reason_codes"] = decision.reason_codes if decision else []
    return body


class OrderPlaceView(_TraderAction):
    """Place the ticket's order. 201 new, 200 a retry of the same ticket (idempotency key), 400 field errors.

    A rejection by the gate is an outcome (201, status REJECTED, with the gate's reasons)."""

    def post(self, request):
        data = _ticket_data(request)
        try:
            order_request = order_request_check(data=data, user=request.user, source=OrderSource.UI)
        except ValidationError as exc:
            errors = _errors(exc)
            audit_record(actor=request.user, action="order.submit.refused", message=str(errors)[:2000])
            return JsonResponse({"errors": errors}, status=400)
        order, created = order_submit(request=order_request, user=request.user)
        if created:
            audit_record(
                actor=request.user,
                action="order.submit",
                obj=order,
                changes={"status": [None, order.status]},
                message=order.status_reason[:2000],
            )
        order = Order.objects.select_related("instrument").get(pk=order.pk)
        return JsonResponse(
            {"order": _order_body(order), "created": created, "next_idempotency_key": new_ticket_key()},
            status=201 if created else 200,
        )


def _get_order_or_404(pk: int) -> None:
    if not Order.objects.filter(pk=pk).exists():
        raise Http404("No such order.")


class OrderCancelView(_TraderAction):
    def post(self, request, pk: int):
        _get_order_or_404(pk)
        try:
            order = order_cancel(order_id=pk, user=request.user)
        except OrderActionRefused as exc:
            return JsonResponse({"error": str(exc)}, status=409)
        return JsonResponse(
            {"order": order_payload(order), "message": f"Cancel requested for {order.client_order_id}."}, status=202
        )


class OrderModifyView(_TraderAction):
    def post(self, request, pk: int):
        _get_order_or_404(pk)
        changes: dict[str, Any] = {}
        for name in ("quantity", "price", "trigger_price"):
            raw = request.POST.get(name, "").strip()
            if raw:
                changes[name] = raw
        if not changes:
            return JsonResponse({"errors": {"__all__": "Give a new quantity or price."}}, status=400)
        try:
            order = order_modify(order_id=pk, user=request.user, **changes)
        except ValidationError as exc:
            errors = _errors(exc)
            audit_record(actor=request.user, action="order.modify.refused", message=str(errors)[:2000])
            return JsonResponse({"errors": errors}, status=400)
        except OrderActionRefused as exc:
            return JsonResponse({"error": str(exc)}, status=409)
        wanted = ", ".join(f"{k} {Decimal(v).normalize():f}" for k, v in changes.items())
        return JsonResponse(
            {"order": order_payload(order), "message": f"Modification sent for {order.client_order_id}: {wanted}."},
            status=202,
        )


class OrdersCancelAllView(_TraderAction):
    """Cancel every working order of an account and/or instrument (and/or strategy)."""

    def post(self, request):
        scope = {name: request.POST.get(name, "").strip() for name in ("account", "instrument", "strategy")}
        if not any(scope.values()):
            return JsonResponse({"errors": {"__all__": "Choose an account, an instrument or a strategy."}}, status=400)
        if scope["strategy"] and not scope["strategy"].isdigit():
            return JsonResponse({"errors": {"strategy": f"Unknown strategy '{scope['strategy']}'."}}, status=400)
        try:
            count = orders_cancel_all(user=request.user, **scope)
        except ValidationError as exc:
            return JsonResponse({"errors": _errors(exc)}, status=400)
        label = ", ".join(f"{k} {v}" for k, v in scope.items() if v)
        audit_record(actor=request.user, action="order.cancel_all", changes={"canceled": [None, count]}, message=label)
        return JsonResponse(
            {"canceled": count, "message": f"Cancel requested for {count} order(s) of {label}."}, status=202
        )
