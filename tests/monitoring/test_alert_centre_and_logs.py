"""Acknowledge/resolve from the alert centre, and the log viewer's filters and export."""

from __future__ import annotations

import csv
import io
import json
import logging

import pytest

from monitoring.alerting import alert_raise
from monitoring.logging import ContextFilter, DeskJsonFormatter, correlation
from monitoring.logviewer import LogQuery, log_search
from monitoring.models import Alert, AuditLog
from monitoring.roles import Role

pytestmark = pytest.mark.django_db


def test_acknowledge_then_resolve_from_the_alert_centre(client, role_users):
    alert = alert_raise(category="data", severity="warning", title="EURUSD feed stale", dedup_key="data:stale:SIM")
    client.force_login(role_users[Role.TRADER])
    page = client.get("/monitoring/alerts/").content.decode()
    assert f'data-testid="ack-{alert.pk}"' in page

    assert client.post(f"/monitoring/alerts/{alert.pk}/acknowledge/").status_code == 302
    alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.acknowledged_by == role_users[Role.TRADER]
    # While the incident is open the same key raises nothing new.
    assert alert_raise(category="data", severity="warning", title="again", dedup_key="data:stale:SIM") is None

    assert client.post(f"/monitoring/alerts/{alert.pk}/resolve/").status_code == 302
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_at is not None
    actions = list(AuditLog.objects.filter(object_id=str(alert.pk)).values_list("action", flat=True))
    assert sorted(actions) == ["alert.acknowledge", "alert.resolve"]
    # Acknowledging a resolved alert is refused with a message, not a 500.
    response = client.post(f"/monitoring/alerts/{alert.pk}/acknowledge/", follow=True)
    assert "already resolved" in response.content.decode()
    # Resolved: the next occurrence is a new incident.
    assert alert_raise(category="data", severity="warning", title="again", dedup_key="data:stale:SIM") is not None
    assert Alert.objects.filter(dedup_key="data:stale:SIM").count() == 2


def test_viewer_cannot_acknowledge(client, role_users):
    alert = alert_raise(category="risk", severity="critical", title="Breach", dedup_key="risk:x")
    client.force_login(role_users[Role.VIEWER])
    assert client.post(f"/monitoring/alerts/{alert.pk}/acknowledge/").status_code == 403
    alert.refresh_from_db()
    assert alert.status == "open"


def test_alert_centre_refuses_unknown_filter_value(client, role_users):
    client.force_login(role_users[Role.VIEWER])
    assert client.get("/monitoring/alerts/", {"severity": "apocalyptic"}).status_code == 400


@pytest.fixture
def desk_log(tmp_path, settings):
    """A log file written by the desk's own JSON formatter, as LOG_DIR's file."""
    settings.LOG_DIR = tmp_path
    path = tmp_path / "nautilus-integration.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(DeskJsonFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("tests.logviewer")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    for n in range(300):
        logger.info("routine tick %s", n)
    with correlation("abc123corr"):
        logger.warning("order O-1 slow fill")
    logger.error("risk gate snapshot load failed")
    logger.debug("noise")
    handler.close()
    logger.removeHandler(handler)
    with open(path, "a") as f:
        f.write("Traceback (most recent call last): not json\n")
    return path


def test_log_viewer_filters_by_level_and_text(desk_log):
    warnings = log_search(LogQuery(level="WARNING"), path=desk_log).lines
    assert [line.level for line in warnings] == ["ERROR", "WARNING"]  # newest first; the raw line has no level
    assert warnings[1].correlation_id == "abc123corr"
    assert [line.message for line in log_search(LogQuery(text="SLOW FILL"), path=desk_log).lines] == [
        "order O-1 slow fill"
    ]
    ticks = log_search(LogQuery(text="routine tick", limit=5), path=desk_log).lines
    assert [line.message for line in ticks] == [f"routine tick {n}" for n in (299, 298, 297, 296, 295)]
    assert log_search(LogQuery(correlation_id="abc123corr"), path=desk_log).lines[0].level == "WARNING"
    assert log_search(LogQuery(text="not json"), path=desk_log).lines[0].level == "RAW"


def test_log_viewer_reads_only_the_tail_it_is_allowed(desk_log):
    result = log_search(LogQuery(text="routine tick 0"), path=desk_log, max_bytes=4096)
    assert result.lines == [] and result.truncated
    assert result.scanned < 40


def test_log_page_and_exports(client, role_users, desk_log):
    client.force_login(role_users[Role.RISK_MANAGER])
    page = client.get("/monitoring/logs/", {"level": "ERROR"}).content.decode()
    assert "risk gate snapshot load failed" in page and "routine tick" not in page
    exported = client.get("/monitoring/logs/export.csv", {"text": "tick 29", "limit": "3"})
    assert exported["Content-Disposition"].startswith('attachment; filename="nautilus-log-')
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert [r["message"] for r in rows] == ["routine tick 299", "routine tick 298", "routine tick 297"]
    body = json.loads(client.get("/monitoring/logs/export.json", {"level": "WARNING"}).content)
    assert [r["level"] for r in body] == ["ERROR", "WARNING"]
    assert client.get("/monitoring/logs/", {"since": "yesterday"}).status_code == 400
    assert AuditLog.objects.filter(action="logs.export").count() == 2


def test_log_viewer_is_for_risk_managers(client, role_users):
    client.force_login(role_users[Role.TRADER])
    assert client.get("/monitoring/logs/").status_code == 403
