"""The daily risk report: one UTC day's closing risk, limits, breaches and kill-switch activity.

``daily_risk_report(day=...)`` gathers it (reads only); ``report_csv`` and ``report_pdf``
render it for export, the Risk page renders the HTML from the same dict, so the three
formats cannot disagree. "Closing" is the risk monitor's last pass of the day for each
account (for today: the latest pass so far).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from monitoring.models import Alert
from risk.models import KillSwitchEvent, RiskLimit, RiskMetricSnapshot

METRICS = (
    ("portfolio_value", "Portfolio value"),
    ("daily_pnl", "Daily P&L"),
    ("drawdown", "Drawdown"),
    ("max_drawdown", "Max drawdown"),
    ("gross_exposure", "Gross exposure"),
    ("net_exposure", "Net exposure"),
    ("var_hist_95", "VaR 95% (hist)"),
    ("var_hist_99", "VaR 99% (hist)"),
    ("es_hist_95", "ES 95% (hist)"),
    ("es_hist_99", "ES 99% (hist)"),
    ("var_param_95", "VaR 95% (param)"),
    ("var_param_99", "VaR 99% (param)"),
)


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def daily_risk_report(*, day: date) -> dict[str, Any]:
    start, end = _bounds(day)
    closing: dict[int | None, RiskMetricSnapshot] = {}
    passes = 0
    for snap in (
        RiskMetricSnapshot.objects.filter(at__gte=start, at__lt=end).select_related("account").order_by("at", "id")
    ):
        closing[snap.account_id] = snap  # later passes overwrite earlier ones
        passes += 1
    accounts = []
    for snap in sorted(closing.values(), key=lambda s: s.account.name if s.account else ""):
        accounts.append(
            {
                "account": snap.account.name if snap.account else "desk",
                "currency": snap.currency,
                "at": snap.at,
                "metrics": [(label, getattr(snap, field)) for field, label in METRICS],
                "limits": snap.details.get("limits", []),
                "stress": snap.details.get("stress", []),
                "positions": snap.details.get("positions", []),
            }
        )
    limit_names = dict(RiskLimit.objects.values_list("id", "name"))
    for acct in accounts:
        for row in acct["limits"]:
            row["name"] = limit_names.get(row.get("limit_id"), f"#{row.get('limit_id')} (deleted)")
    breaches = list(
        Alert.objects.filter(category=Alert.Category.RISK, created_at__gte=start, created_at__lt=end).order_by(
            "created_at"
        )
    )
    kill_switch_events = list(
        KillSwitchEvent.objects.filter(at__gte=start, at__lt=end)
        .select_related(
            "actor",
            "kill_switch",
            "kill_switch__account",
            "kill_switch__strategy",
            "kill_switch__instrument",
            "kill_switch__sector",
        )
        .order_by("at")
    )
    return {
        "day": day,
        "generated_at": datetime.now(tz=UTC),
        "passes": passes,
        "accounts": accounts,
        "breaches": breaches,
        "kill_switch_events": kill_switch_events,
    }


def _s(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


def report_rows(report: dict[str, Any]) -> list[list[str]]:
    """The report as rows: ``section, account, item, value, limit, extra`` (CSV and PDF share them)."""
    rows: list[list[str]] = []
    for acct in report["accounts"]:
        for label, value in acct["metrics"]:
            rows.append(["metric", acct["account"], label, _s(value), "", acct["currency"]])
        for lim in acct["limits"]:
            util = lim.get("utilisation_pct")
            rows.append(
                [
                    "limit",
                    acct["account"],
                    f"{lim['name']} ({lim['kind']}, {lim['scope']})",
                    _s(lim.get("measured")),
                    _s(lim.get("value")),
                    f"{util}%{' BREACHED' if lim.get('breached') else ''}" if util is not None else "per order",
                ]
            )
        for sc in acct["stress"]:
            rows.append(["stress", acct["account"], sc["scenario"], _s(sc["total"]), "", acct["currency"]])
    for alert in report["breaches"]:
        rows.append(["alert", "", alert.title, alert.message, "", f"{alert.severity} {_s(alert.created_at)}"])
    for ev in report["kill_switch_events"]:
        who = "automatic" if ev.automatic else (ev.actor.get_username() if ev.actor else "system")
        rows.append(
            [
                "kill_switch",
                "",
                f"{ev.kill_switch.scope_label} {'engaged' if ev.engaged else 'released'} ({ev.mode})",
                ev.reason,
                "",
                f"{who} {_s(ev.at)}",
            ]
        )
    return rows


def report_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "account", "item", "value", "limit", "extra"])
    writer.writerows(report_rows(report))
    return out.getvalue()


def _latin(text: str) -> str:
    # The PDF core fonts are Latin-1; anything else becomes "?" rather than failing the export.
    return text.encode("latin-1", "replace").decode("latin-1")


def report_pdf(report: dict[str, Any]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, _latin(f"Daily risk report {report['day']:%Y-%m-%d} (UTC)"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.cell(
        0,
        5,
        _latin(f"Generated {_s(report['generated_at'])} UTC; {report['passes']} risk-monitor results that day"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    widths = (22, 28, 110, 45, 35, 37)
    pdf.set_font("Helvetica", "B", 8)
    for w, head in zip(widths, ("Section", "Account", "Item", "Value", "Limit", "Extra"), strict=True):
        pdf.cell(w, 6, head, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", "", 8)
    rows = report_rows(report)
    if not rows:
        pdf.cell(0, 6, "No risk-monitor results, alerts or kill-switch events that day.", new_x="LMARGIN", new_y="NEXT")
    for row in rows:
        for w, text in zip(widths, row, strict=True):
            text = _latin(text)
            # Cut to the column: the CSV export has the full text.
            while text and pdf.get_string_width(text) > w - 2:
                text = text[:-1]
            pdf.cell(w, 5, text, border=1)
        pdf.ln()
    return bytes(pdf.output())
