"""The Portfolio section: overview, positions, sync with the engine and F8, history,
attribution, trade history and the compliance report.

Views parse and check input (errors name the field, HTTP 400), call selectors and
the portfolio modules, and render. The two writes — force a reconciliation,
resolve a discrepancy — need a Risk Manager and go through
``portfolio.reconciliation``.
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, time, timedelta

import redis
from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views import View
from django.views.generic import TemplateView

from monitoring.audit import audit_record
from monitoring.pages import SectionPage
from monitoring.roles import Role, RoleRequiredMixin
from monitoring.templatetags.desk import fixed, money, signed
from portfolio import selectors
from portfolio.models import PortfolioSnapshot

HISTORY_KINDS = PortfolioSnapshot.Kind.values
TRADES_PER_PAGE = 100


def _bad_request(request, errors: dict[str, str], *, status: int = 400) -> TemplateResponse:
    return TemplateResponse(request, "portfolio/action_error.html", {"errors": errors}, status=status)


def _positive_int(raw: str | None, *, field: str, default: int, errors: dict[str, str]) -> int:
    if raw in (None, ""):
        return default
    if not raw.isdigit() or int(raw) < 1:
        errors[field] = f"{field}: {raw!r} is not a page number (1, 2, …)."
        return default
    return int(raw)


def _tone(value) -> str:
    return "" if value is None or value == 0 else "pos" if value > 0 else "neg"


def _position_cells(r: selectors.PositionRow, tz) -> dict[str, str]:
    """A row's cells as text, numbers formatted by the desk's own filters.

    A page holds 100 rows of 13 columns; formatting here instead of through a dozen
    filters and attribute lookups per row is what keeps the page inside its time budget.
    Names are escaped once; formatted numbers (digits, separators, signs) need no escaping."""
    safe = SafeString
    return {
        "instrument": safe(html.escape(r.instrument_id)),
        "account": safe(html.escape(r.account)),
        "sector": safe(html.escape(r.sector)),
        "strategy": safe(html.escape(r.strategy) if r.strategy else "—"),
        "side": safe("sell" if r.quantity < 0 else "buy"),
        "quantity": safe(fixed(r.quantity, r.size_precision)),
        "avg_price": safe(fixed(r.avg_price, r.price_precision)),
        "mark": safe(fixed(r.mark, r.price_precision)),
        "mark_class": safe("" if r.mark_live else "dim"),
        "mark_live": safe("1" if r.mark_live else "0"),
        "notional": safe(money(r.notional)),
        "currency": safe(html.escape(r.quote_currency)),
        "unrealized": safe(signed(r.unrealized)),
        "unrealized_class": safe(_tone(r.unrealized)),
        "pct_equity": safe("—" if r.pct_equity is None else f"{r.pct_equity}%"),
        "var": safe("—" if r.var_95 is None else money(r.var_95)),
        "realized": safe(signed(r.realized_pnl)),
        "realized_class": safe(_tone(r.realized_pnl)),
        "opened": safe(f"{r.opened_at.astimezone(tz):%m-%d %H:%M}" if r.opened_at else "—"),
    }


class PortfolioView(SectionPage, TemplateView):
    """GET /portfolio/ — the book, its totals, sync status and equity history.

    Query: ``account`` (id), ``sort`` (a key of ``selectors.SORTS``, ``-`` for
    descending), ``page``, ``history`` (daily | intraday)."""

    template_name = "portfolio/portfolio.html"
    required_role = Role.VIEWER
    fragments = ("overview", "positions", "sync", "balances", "history")

    def get(self, request, *args, **kwargs):
        self.errors: dict[str, str] = {}
        q = request.GET
        sort = (q.get("sort") or "instrument").strip()
        self.descending = sort.startswith("-")
        self.sort = sort.removeprefix("-")
        if self.sort not in selectors.SORTS:
            self.errors["sort"] = f"sort: {sort!r} is not one of {', '.join(selectors.SORTS)} (prefix - to reverse)."
        self.page = _positive_int(q.get("page"), field="page", default=1, errors=self.errors)
        self.account = None
        raw_account = (q.get("account") or "").strip()
        if raw_account:
            from trading.models import Account

            self.account = Account.objects.filter(pk=int(raw_account)).first() if raw_account.isdigit() else None
            if self.account is None:
                self.errors["account"] = f"account: no account with id {raw_account!r}."
        self.history = (q.get("history") or "").strip()
        if self.history and self.history not in HISTORY_KINDS:
            self.errors["history"] = f"history: {self.history!r} is not one of {', '.join(HISTORY_KINDS)}."
        if self.errors:
            return _bad_request(request, self.errors)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        fragment = self.request.GET.get("fragment")
        # A live refresh renders one fragment: build only what it shows.
        if fragment in (None, "overview"):
            ctx["overview"] = selectors.portfolio_overview()
        if fragment in (None, "positions"):
            ctx.update(self._positions_context())
        if fragment in (None, "sync"):
            ctx.update(self._sync_context())
        if fragment in (None, "balances"):
            ctx["balances"] = list(selectors.cash_balance_list())
        if fragment == "history":
            ctx.update(self._history_context())
        return ctx

    def _positions_context(self) -> dict:
        page = selectors.position_page(
            account_id=self.account.pk if self.account else None,
            sort=self.sort,
            descending=self.descending,
            page=self.page,
        )
        params = self.request.GET.copy()
        params.pop("fragment", None)
        params.pop("page", None)
        columns = []
        for key, label, numeric in (
            ("instrument", "Instrument", False),
            ("sector", "Sector", False),
            ("account", "Account", False),
            ("strategy", "Strategy", False),
            ("quantity", "Quantity", True),
            ("avg_price", "Avg price", True),
            ("mark", "Mark", True),
            ("notional", "Notional", True),
            ("unrealized", "Unrealised P&L", True),
            (None, "% equity", True),
            (None, "VaR 95", True),
            ("realized", "Realised P&L", True),
            ("opened", "Opened", False),
        ):
            href = arrow = None
            if key is not None:
                current = key == self.sort
                params["sort"] = f"-{key}" if current and not self.descending else key
                href = "?" + params.urlencode()
                arrow = ("▼" if self.descending else "▲") if current else ""
            columns.append({"key": key, "label": label, "numeric": numeric, "href": href, "arrow": arrow})
        params["sort"] = f"-{self.sort}" if self.descending else self.sort
        base = params.urlencode()
        from trading.models import Account

        return {
            "positions": page,
            "position_cells": [_position_cells(r, timezone.get_current_timezone()) for r in page.rows],
            "columns": columns,
            "accounts": list(Account.objects.order_by("name").only("id", "name")),
            "selected_account": self.account,
            "page_prev": f"?{base}&page={page.number - 1}" if page.has_previous else None,
            "page_next": f"?{base}&page={page.number + 1}" if page.has_next else None,
        }

    def _sync_context(self) -> dict:
        from portfolio.f8.status import f8_status
        from portfolio.status import sync_status

        try:
            sync = sync_status()
        except redis.RedisError:
            sync = None
        try:
            f8 = f8_status()
        except redis.RedisError:
            f8 = None
        discrepancies = selectors.discrepancy_open_list(limit=100)
        return {
            "sync": sync,
            "f8": f8,
            "discrepancies": discrepancies[:100],
            "discrepancies_more": len(discrepancies) > 100,
            "resolved_recently": selectors.discrepancy_recent_resolved(limit=5),
        }

    def _history_context(self) -> dict:
        from portfolio.performance import performance_summary

        kind = self.history or PortfolioSnapshot.Kind.DAILY
        perf = performance_summary(kind=kind, start=self._history_start(kind))
        if not self.history and perf["points"] < 2:
            # A young desk has no daily closes yet; its intraday history is the better picture.
            kind = PortfolioSnapshot.Kind.INTRADAY
            perf = performance_summary(kind=kind, start=self._history_start(kind))
        chart = {"kind": kind, "series": perf["series"], "drawdown": perf["drawdown"]}
        return {"perf": perf, "history_kind": kind, "chart": chart}

    @staticmethod
    def _history_start(kind: str) -> datetime:
        # Intraday snapshots come every minute: two days are ~2,900 points, plenty for a chart.
        days = 2 if kind == PortfolioSnapshot.Kind.INTRADAY else 3 * 365
        return timezone.now() - timedelta(days=days)


class ReconcileForceView(RoleRequiredMixin, View):
    """POST /portfolio/reconcile/ — run the book-vs-engine reconciliation now (Risk Manager+)."""

    required_role = Role.RISK_MANAGER

    def post(self, request):
        from portfolio.reconciliation import reconcile_all
        from portfolio.status import sync_status

        try:
            before = sync_status().state
            result = reconcile_all()
        except redis.RedisError as exc:
            return _bad_request(request, {"redis": f"The desk's Redis is unreachable: {exc}"}, status=503)
        with transaction.atomic():
            audit_record(
                actor=request.user,
                action="reconciliation.force",
                changes={"state": [before, result["state"]]},
                message=result["detail"],
            )
        messages.success(request, f"Reconciliation ran: {result['state']} — {result['detail']}.")
        return redirect(reverse("portfolio") + "#sync")


class DiscrepancyResolveView(RoleRequiredMixin, View):
    """POST /portfolio/discrepancies/<id>/resolve/ with ``action`` accept_engine | keep_book (Risk Manager+)."""

    required_role = Role.RISK_MANAGER
    ACTIONS = ("accept_engine", "keep_book")

    def post(self, request, pk: int):
        from portfolio.models import Discrepancy
        from portfolio.reconciliation import discrepancy_resolve

        action = request.POST.get("action", "")
        if action not in self.ACTIONS:
            return _bad_request(request, {"action": f"action: {action!r} is not one of {', '.join(self.ACTIONS)}."})
        if not Discrepancy.objects.filter(pk=pk).exists():
            raise Http404("No such discrepancy.")
        try:
            d = discrepancy_resolve(discrepancy_id=pk, user=request.user, action=action)
        except ValueError as exc:
            return _bad_request(request, {"discrepancy": str(exc)})
        what = "book corrected to the engine" if action == "accept_engine" else "book kept"
        messages.success(
            request, f"{d.instrument} on {d.account}: {what} (engine {d.engine_quantity}, book {d.book_quantity})."
        )
        return redirect(reverse("portfolio") + "#sync")


# -- post-trade pages ----------------------------------------------------------------------


class PeriodForm(forms.Form):
    """A period of whole UTC days: ``end`` is inclusive."""

    start = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    end = forms.DateField(required=False, input_formats=["%Y-%m-%d"])

    def __init__(self, *args, default_days: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_days = default_days

    def clean(self):
        data = super().clean()
        today = timezone.now().astimezone(UTC).date()
        end = data.get("end") or today
        start = data.get("start") or end - timedelta(days=self.default_days - 1)
        if "start" in self.errors or "end" in self.errors:
            return data
        if start > end:
            self.add_error("end", "The end must not be before the start.")
        data["start"], data["end"] = start, end
        return data

    def iso_values(self) -> dict[str, str]:
        """The period as the date inputs take it back (YYYY-MM-DD)."""
        return {name: self.cleaned_data[name].isoformat() for name in ("start", "end")}

    def moments(self) -> tuple[datetime, datetime]:
        """[start 00:00, the day after end 00:00) in UTC."""
        start: date = self.cleaned_data["start"]
        end: date = self.cleaned_data["end"]
        return datetime.combine(start, time(0), tzinfo=UTC), datetime.combine(
            end + timedelta(days=1), time(0), tzinfo=UTC
        )


def _form_errors(form: forms.Form) -> dict[str, str]:
    return {field: f"{field}: {' '.join(errs)}" for field, errs in form.errors.items()}


class AttributionView(SectionPage, TemplateView):
    """GET /portfolio/attribution/ — P&L by strategy, instrument, sector and day for a period.

    The page answers at once; the tables come from ``?fragment=results``: whole past
    days come summed from the attribution ledger, only today's fills are replayed."""

    template_name = "portfolio/attribution.html"
    required_role = Role.VIEWER
    fragments = ("results",)

    def get(self, request, *args, **kwargs):
        from portfolio.attribution import DIMENSIONS, pnl_attribution
        from trading.models import Account

        form = PeriodForm(request.GET, default_days=30)
        errors: dict[str, str] = {}
        account = None
        raw_account = (request.GET.get("account") or "").strip()
        if raw_account:
            account = Account.objects.filter(pk=int(raw_account)).first() if raw_account.isdigit() else None
            if account is None:
                errors["account"] = f"account: no account with id {raw_account!r}."
        if not form.is_valid():
            errors.update(_form_errors(form))
        ctx = {
            "errors": errors,
            "accounts": Account.objects.order_by("name"),
            "selected_account": account,
            "values": request.GET,
        }
        if errors:
            return self.render_to_response(ctx, status=400)
        ctx["values"] = form.iso_values()
        if request.GET.get("fragment") != "results":
            params = request.GET.copy()
            params["fragment"] = "results"
            return self.render_to_response({**ctx, "results_query": params.urlencode()})
        start, end = form.moments()
        # The open end of today includes open positions' unrealised P&L at the live mark.
        open_ended = end > timezone.now()
        result = pnl_attribution(
            start=start, end=None if open_ended else end, account_id=account.pk if account else None
        )
        tables = [(d, result.rows(d)) for d in DIMENSIONS]
        ctx.update(
            attribution=result,
            tables=tables,
            start=form.cleaned_data["start"],
            end=form.cleaned_data["end"],
            open_ended=open_ended,
        )
        return self.render_to_response(ctx)


class TradeHistoryView(RoleRequiredMixin, TemplateView):
    """GET /portfolio/trades/ — fills with filters (``portfolio.exports.trade_history_filters``), newest first."""

    template_name = "portfolio/trades.html"
    required_role = Role.VIEWER

    def get(self, request, *args, **kwargs):
        from portfolio.exports import trade_history_filters, trade_history_queryset
        from strategies.models import Strategy
        from trading.models import Account

        ctx = {
            "accounts": Account.objects.order_by("name"),
            "strategies": Strategy.objects.order_by("name").only("id", "name"),
            "values": request.GET,
        }
        errors: dict[str, str] = {}
        page = _positive_int(request.GET.get("page"), field="page", default=1, errors=errors)
        try:
            filters = trade_history_filters(request.GET)
        except ValidationError as exc:
            errors.update({f: f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items()})
        if errors:
            return self.render_to_response({**ctx, "errors": errors}, status=400)
        offset = (page - 1) * TRADES_PER_PAGE
        # No COUNT over a million fills: one row past the page says whether there is a next one.
        fills = list(
            trade_history_queryset(filters).order_by("-ts_event", "-id")[offset : offset + TRADES_PER_PAGE + 1]
        )
        params = request.GET.copy()
        params.pop("page", None)
        base = params.urlencode()
        ctx.update(
            fills=fills[:TRADES_PER_PAGE],
            page=page,
            page_prev=f"?{base}&page={page - 1}" if page > 1 else None,
            page_next=f"?{base}&page={page + 1}" if len(fills) > TRADES_PER_PAGE else None,
            export_query=base,
        )
        return self.render_to_response(ctx)


class TradeExportView(RoleRequiredMixin, View):
    """GET /portfolio/trades/export.csv — the filtered trade history as streamed CSV."""

    required_role = Role.VIEWER

    def get(self, request):
        from portfolio.exports import trade_history_csv, trade_history_filename, trade_history_filters

        try:
            filters = trade_history_filters(request.GET)
        except ValidationError as exc:
            text = "\n".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items())
            return HttpResponse(text + "\n", status=400, content_type="text/plain; charset=utf-8")
        response = StreamingHttpResponse(trade_history_csv(filters), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{trade_history_filename(filters)}"'
        return response


class ComplianceView(RoleRequiredMixin, TemplateView):
    """GET /portfolio/compliance/?start=&end=[&format=csv|pdf] — the compliance report for a period."""

    template_name = "portfolio/compliance.html"
    required_role = Role.VIEWER
    FORMATS = ("html", "csv", "pdf")

    def get(self, request, *args, **kwargs):
        from portfolio.compliance import compliance_report, compliance_report_csv, compliance_report_pdf

        form = PeriodForm(request.GET, default_days=7)
        errors: dict[str, str] = {}
        fmt = (request.GET.get("format") or "html").strip()
        if fmt not in self.FORMATS:
            errors["format"] = f"format: {fmt!r} is not one of {', '.join(self.FORMATS)}."
        if not form.is_valid():
            errors.update(_form_errors(form))
        report = None
        if not errors:
            start, end = form.moments()
            try:
                report = compliance_report(start=start, end=end)
            except ValidationError as exc:
                errors.update({f: f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items()})
        if errors:
            if fmt in ("csv", "pdf"):
                text = "\n".join(errors.values())
                return HttpResponse(text + "\n", status=400, content_type="text/plain; charset=utf-8")
            return self.render_to_response({"errors": errors, "values": request.GET}, status=400)
        name = f"compliance-{form.cleaned_data['start']}-{form.cleaned_data['end']}"
        if fmt == "csv":
            response = HttpResponse(compliance_report_csv(report), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
            return response
        if fmt == "pdf":
            response = HttpResponse(compliance_report_pdf(report), content_type="application/pdf")
            response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
            return response
        params = request.GET.copy()
        params.pop("format", None)
        params["start"], params["end"] = str(form.cleaned_data["start"]), str(form.cleaned_data["end"])
        return self.render_to_response(
            {
                "report": report,
                "values": form.iso_values(),
                "query": params.urlencode(),
            }
        )
