"""Markets pages: live table, instrument page with chart and data quality, exports, node controls, catalog."""

from __future__ import annotations

import csv
import time

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.views import View
from django.views.generic import TemplateView

from monitoring.roles import Role, RoleRequiredMixin
from trading.markets import selectors
from trading.models import Instrument
from trading.node.status import node_status

ASSET_CLASSES = Instrument.AssetClass.choices


def _node() -> dict:
    try:
        return node_status().as_dict()
    except Exception:
        return {"state": "unknown", "reason": "Redis unreachable", "alive": False}


class MarketsView(RoleRequiredMixin, TemplateView):
    required_role = Role.VIEWER
    template_name = "trading/markets/markets.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        q = self.request.GET
        asset_class = q.get("type", "") if q.get("type", "") in dict(ASSET_CLASSES) else ""
        sort = q.get("sort", "symbol")
        ctx.update(
            rows=selectors.market_rows(
                asset_class=asset_class, search=q.get("q", "").strip()[:64], sort=sort, now=time.time()
            ),
            asset_classes=ASSET_CLASSES,
            asset_class=asset_class,
            search=q.get("q", ""),
            sort=sort,
            node=_node(),
        )
        return ctx


class MarketsExportView(RoleRequiredMixin, View):
    required_role = Role.VIEWER

    def get(self, request):
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="markets.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "instrument_id",
                "asset_class",
                "sector",
                "bid",
                "ask",
                "last",
                "spread",
                "change",
                "age_seconds",
                "updates_per_second",
                "source",
                "status",
            ]
        )
        for r in selectors.market_rows(
            asset_class=request.GET.get("type", ""), search=request.GET.get("q", ""), now=time.time()
        ):
            writer.writerow(
                [
                    r["instrument_id"],
                    r["asset_class"],
                    r["sector"],
                    r["bid"] or "",
                    r["ask"] or "",
                    r["last"] or "",
                    r["spread"] if r["spread"] is not None else "",
                    r["change"] if r["change"] is not None else "",
                    "" if r["age"] is None else round(r["age"], 3),
                    r["rate"] or "",
                    r["source"],
                    r["status"],
                ]
            )
        return response


class InstrumentView(RoleRequiredMixin, TemplateView):
    required_role = Role.VIEWER
    template_name = "trading/markets/instrument.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        instrument = (
            Instrument.objects.select_related("sector", "venue").filter(instrument_id=kwargs["instrument_id"]).first()
        )
        if instrument is None:
            raise Http404("Unknown instrument")
        seconds = 5
        ctx.update(
            instrument=instrument,
            quality=selectors.instrument_quality(instrument.instrument_id),
            row=next(iter(selectors.market_rows(search=instrument.symbol, now=time.time())), None),
            bar_seconds=seconds,
            history=selectors.catalog_candles(instrument.instrument_id),
            live=selectors.candles_from_ticks(selectors.recent_ticks(instrument.instrument_id), seconds),
        )
        return ctx


class NodeActionView(RoleRequiredMixin, View):
    """POST /markets/node/<start|stop|restart>/ — Admin only, audited by the service."""

    required_role = Role.ADMIN

    def post(self, request, action: str):
        from trading.node.services import node_restart, node_start, node_stop

        service = {"start": node_start, "stop": node_stop, "restart": node_restart}.get(action)
        if service is None:
            return HttpResponseBadRequest("action: expected start, stop or restart")
        service(user=request.user)
        messages.success(request, f"Node {action} requested.")
        return redirect("markets")


class CatalogImportForm(forms.Form):
    kind = forms.ChoiceField(choices=[("bars", "Bars"), ("quotes", "Quotes"), ("trades", "Trades")])
    instrument_id = forms.ModelChoiceField(queryset=Instrument.objects.all(), to_field_name="instrument_id")
    bar_spec = forms.CharField(initial="1-MINUTE-LAST", required=False)
    file = forms.FileField()

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > 50 * 1024 * 1024:
            raise forms.ValidationError("The file is larger than 50 MB; use `manage.py catalog_import`.")
        return f


class CatalogView(RoleRequiredMixin, TemplateView):
    required_role = Role.VIEWER
    write_role = Role.ADMIN
    template_name = "trading/markets/catalog.html"

    def get_context_data(self, **kwargs):
        from trading.catalog.store import catalog_contents

        ctx = super().get_context_data(**kwargs)
        ctx.setdefault("form", CatalogImportForm())
        ctx["contents"] = catalog_contents()
        return ctx

    def post(self, request):
        from trading.catalog.csv_format import CatalogImportError
        from trading.catalog.store import import_csv

        form = CatalogImportForm(request.POST, request.FILES)
        if form.is_valid():
            f = form.cleaned_data["file"]
            try:
                text = f.read().decode("utf-8-sig")
                result = import_csv(
                    kind=form.cleaned_data["kind"],
                    instrument_id=form.cleaned_data["instrument_id"].instrument_id,
                    text=text,
                    source=f.name,
                    bar_spec=form.cleaned_data["bar_spec"] or "1-MINUTE-LAST",
                )
            except UnicodeDecodeError:
                form.add_error("file", "The file is not UTF-8 text.")
            except CatalogImportError as exc:
                for err in exc.errors:
                    form.add_error("file", err)
            else:
                from monitoring.audit import audit_record

                audit_record(
                    actor=request.user,
                    action="catalog.import",
                    message=f"{result.rows} {result.kind} for {result.identifier} from {f.name}",
                )
                messages.success(request, f"Imported {result.rows} {result.kind} for {result.identifier}.")
                return redirect("markets-catalog")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class CatalogExportView(RoleRequiredMixin, View):
    required_role = Role.VIEWER

    def get(self, request):
        from trading.catalog.csv_format import parse_timestamp
        from trading.catalog.store import export_csv, export_parquet, query_range

        q = request.GET
        kind, identifier, fmt = q.get("kind", ""), q.get("identifier", ""), q.get("format", "csv")
        if kind not in ("bars", "quotes", "trades"):
            return HttpResponseBadRequest("kind: expected bars, quotes or trades")
        if fmt not in ("csv", "parquet"):
            return HttpResponseBadRequest("format: expected csv or parquet")
        try:
            start = parse_timestamp(q["start"]) if q.get("start") else None
            end = parse_timestamp(q["end"]) if q.get("end") else None
        except ValueError as exc:
            return HttpResponseBadRequest(f"start/end: {exc}")
        data = query_range(kind=kind, identifier=identifier, start=start, end=end)
        name = identifier.replace("/", "")
        if fmt == "csv":
            response = HttpResponse(export_csv(kind, data), content_type="text/csv")
        else:
            response = HttpResponse(export_parquet(kind, data), content_type="application/vnd.apache.parquet")
        response["Content-Disposition"] = f'attachment; filename="{name}-{kind}.{fmt}"'
        return response
