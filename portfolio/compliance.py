"""The compliance report for a period, exportable as CSV and PDF.

Sections (each a list of rows, counted in the summary):

* limit breaches — risk alerts (``Alert`` category risk) raised in the period;
* kill-switch events — every engage/disengage, by a person or automatic;
* overrides — people changing the safety net: limit creations, edits and
  deletions and kill-switch releases (audit log), in the period;
* rejected orders — orders rejected by the gate or the venue in the period, with
  the gate's reason codes;
* manual reconciliations — discrepancies (engine or F8) resolved by a person.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.utils import timezone

from monitoring.models import Alert, AuditLog
from portfolio.models import Discrepancy
from risk.models import KillSwitchEvent
from trading.models import OrderEvent, OrderStatus

OVERRIDE_ACTIONS = ("risk_limit.create", "risk_limit.update", "risk_limit.delete", "kill_switch.disengage")
REJECTED_STATUSES = (OrderStatus.REJECTED, OrderStatus.VENUE_REJECTED)
MAX_PERIOD_DAYS = 366


@dataclass
class ComplianceSection:
    name: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class ComplianceReport:
    start: datetime
    end: datetime
    generated_at: datetime
    sections: list[ComplianceSection]

    @property
    def counts(self) -> dict[str, int]:
        return {s.name: len(s.rows) for s in self.sections}

    def section(self, name: str) -> ComplianceSection:
        return next(s for s in self.sections if s.name == name)

    @property
    def period_label(self) -> str:
        return f"{_ts(self.start)} to {_ts(self.end)} (UTC)"


def _ts(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _num(value) -> str:
    return format(value.normalize(), "f") if value else "0"


def _check_period(start, end) -> None:
    errors = {}
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime):
            errors[name] = "A date and time is required."
        elif timezone.is_naive(value):
            errors[name] = "The time needs a time zone."
    if not errors and start >= end:
        errors["end"] = "The end of the period must be after its start."
    if not errors and (end - start).days > MAX_PERIOD_DAYS:
        errors["end"] = f"A report covers at most {MAX_PERIOD_DAYS} days."
    if errors:
        raise ValidationError(errors)


def compliance_report(*, start: datetime, end: datetime) -> ComplianceReport:
    """Everything of compliance interest in [start, end)."""
    _check_period(start, end)
    breaches = ComplianceSection(
        "limit_breaches",
        "Limit breaches",
        ["time", "severity", "title", "message", "status"],
    )
    for a in Alert.objects.filter(category=Alert.Category.RISK, created_at__gte=start, created_at__lt=end).order_by(
        "created_at", "id"
    ):
        breaches.rows.append([_ts(a.created_at), a.severity, a.title, a.message, a.status])

    kills = ComplianceSection(
        "kill_switch_events",
        "Kill-switch events",
        ["time", "scope", "action", "mode", "by", "reason"],
    )
    for e in (
        KillSwitchEvent.objects.filter(at__gte=start, at__lt=end)
        .select_related(
            "kill_switch",
            "kill_switch__account",
            "kill_switch__strategy",
            "kill_switch__instrument",
            "kill_switch__sector",
            "actor",
        )
        .order_by("at", "id")
    ):
        by = "automatic" if e.automatic else (e.actor.get_username() if e.actor else "system")
        kills.rows.append(
            [_ts(e.at), e.kill_switch.scope_label, "engaged" if e.engaged else "released", e.mode, by, e.reason]
        )

    overrides = ComplianceSection("overrides", "Overrides", ["time", "by", "action", "object", "changes", "message"])
    for log in (
        AuditLog.objects.filter(action__in=OVERRIDE_ACTIONS, at__gte=start, at__lt=end)
        .exclude(actor_name__in=("", "system"))
        .order_by("at", "id")
    ):
        changes = "; ".join(
            f"{k}: {v[0]} -> {v[1]}" if isinstance(v, list) and len(v) == 2 else f"{k}: {v}"
            for k, v in (log.changes or {}).items()
        )
        overrides.rows.append([_ts(log.at), log.actor_name, log.action, log.object_repr, changes, log.message])

    rejected = ComplianceSection(
        "rejected_orders",
        "Rejected orders",
        ["time", "order", "account", "instrument", "side", "quantity", "status", "reason", "gate reason codes"],
    )
    events = (
        OrderEvent.objects.filter(to_status__in=REJECTED_STATUSES, at__gte=start, at__lt=end)
        .select_related("order", "order__account", "order__instrument", "order__risk_decision")
        .order_by("at", "id")
    )
    for ev in events:
        order = ev.order
        decision = getattr(order, "risk_decision", None)
        codes = ", ".join(decision.reason_codes) if decision is not None and decision.reason_codes else ""
        rejected.rows.append(
            [
                _ts(ev.at),
                order.client_order_id,
                order.account.name,
                order.instrument.instrument_id,
                order.side,
                _num(order.quantity),
                ev.to_status,
                ev.message or order.status_reason,
                codes,
            ]
        )

    manual = ComplianceSection(
        "manual_reconciliations",
        "Manual reconciliations",
        ["time", "source", "account", "instrument", "book", "other side", "resolution", "by"],
    )
    for d in (
        Discrepancy.objects.filter(resolved_by__isnull=False, resolved_at__gte=start, resolved_at__lt=end)
        .select_related("account", "instrument", "resolved_by")
        .order_by("resolved_at", "id")
    ):
        manual.rows.append(
            [
                _ts(d.resolved_at),
                d.get_source_display(),
                d.account.name,
                d.instrument.instrument_id,
                _num(d.book_quantity),
                _num(d.engine_quantity),
                d.get_resolution_display(),
                d.resolved_by.get_username(),
            ]
        )
    return ComplianceReport(
        start=start, end=end, generated_at=timezone.now(), sections=[breaches, kills, overrides, rejected, manual]
    )


def compliance_report_csv(report: ComplianceReport) -> str:
    """One CSV: a header block with the period and counts, then each section's table."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["Compliance report"])
    w.writerow(["period start", _ts(report.start)])
    w.writerow(["period end", _ts(report.end)])
    w.writerow(["generated", _ts(report.generated_at)])
    for section in report.sections:
        w.writerow([f"{section.title} (count)", len(section.rows)])
    for section in report.sections:
        w.writerow([])
        w.writerow([f"# {section.title}"])
        w.writerow(["section", *section.columns])
        for row in section.rows:
            w.writerow([section.name, *row])
    return out.getvalue()


def _latin1(text: str) -> str:
    # The PDF's core fonts are Latin-1; anything else is shown as '?' rather than failing the report.
    return text.replace("\u2192", "->").replace("\u2014", "-").encode("latin-1", "replace").decode("latin-1")


def compliance_report_pdf(report: ComplianceReport) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(orientation="landscape", unit="mm", format="A4")
    pdf.set_title("Compliance report")
    pdf.set_author("Nautilus Integration")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Compliance report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, _latin1(f"Period: {report.period_label}"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, _latin1(f"Generated: {_ts(report.generated_at)} UTC"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    with pdf.table(col_widths=(80, 30), width=110, align="LEFT", text_align=("LEFT", "RIGHT")) as table:
        table.row(["Section", "Count"])
        for section in report.sections:
            table.row([section.title, str(len(section.rows))])
    for section in report.sections:
        pdf.ln(5)
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 8, _latin1(f"{section.title} ({len(section.rows)})"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 8)
        if not section.rows:
            pdf.cell(0, 6, "None in this period.", new_x="LMARGIN", new_y="NEXT")
            continue
        with pdf.table(headings_style=FontFace(emphasis="BOLD"), text_align="LEFT", line_height=4) as table:
            table.row([_latin1(c) for c in section.columns])
            for row in section.rows:
                table.row([_latin1(c)[:400] for c in row])
    return bytes(pdf.output())
