"""The seed's Monitoring and Alerts scenario in Chromium, against real daphne, a real worker, a webhook and SMTP.

Metrics visible (charts, processes, Celery), a rule refused then saved, a test alert and a real incident
raised and delivered (toast, webhook, email), acknowledged and resolved, logs filtered and exported.
"""

from __future__ import annotations

import csv
import io
import sys

import pytest
from playwright.sync_api import Page, expect

from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.series import sample_take
from monitoring.models import Alert, AlertDelivery, AlertRule
from monitoring.redis_client import redis_client
from monitoring.roles import Role
from monitoring.tasks import metrics_probe
from tests.factories import password_for
from tests.monitoring.conftest import wait_for
from tests.services import ROOT, free_port, wait_for_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = ROOT / "test-artifacts" / "monitoring"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def desk(tmp_path, smtp_server, role_users):
    """daphne and a default worker sharing one LOG_DIR, email going to the test SMTP server."""
    from tests.processes import ManagedProcess, child_env, start_celery_worker

    env = child_env(
        LOG_DIR=str(tmp_path / "logs"),
        EMAIL_HOST=smtp_server.host,
        EMAIL_PORT=str(smtp_server.port),
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    )
    port = free_port()
    web = ManagedProcess(
        "daphne-monitoring",
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        env=env,
    ).start()
    wait_for_port(port, timeout=30)
    worker = start_celery_worker("monitoring-ui", "default", pool="threads", extra=["--concurrency", "3"], env=env)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "log_dir": tmp_path / "logs"}
    finally:
        worker.stop()
        web.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password_for(username))
    page.click("button[type=submit]")
    expect(page.locator("[data-testid=username]")).to_have_text(username)


def test_monitoring_and_alerts_scenario(desk, page, webhook_server, smtp_server, role_users):
    base = desk["url"]
    log_in(page, base, "risk")
    # Traffic between samples, as the beat task would see it every 5 s.
    sample_take()
    for path in ("/", "/monitoring/alerts/", "/monitoring/rules/", "/risk/"):
        page.goto(base + path)
    sample_take()
    page.goto(base + "/execution/")
    sample_take()

    # --- metrics visible ------------------------------------------------------------
    page.goto(base + "/monitoring/")
    expect(page.locator("[data-series-url]")).to_have_attribute("data-loaded", "3")
    expect(page.locator("[data-testid=process-table]")).to_contain_text("web")
    expect(page.locator("[data-testid=celery-workers]")).to_contain_text("monitoring-ui@")
    expect(page.locator("[data-testid=celery-queues]")).to_contain_text("default")
    shot(page, "01-overview")

    # --- a rule refused with the field named, then saved ------------------------------
    page.goto(base + "/monitoring/rules/new/")
    page.fill("#id_name", "Node queue backlog (browser)")
    page.select_option("#id_kind", "metric")
    page.fill("#id_metric", "queue_lenght")
    page.select_option("#id_comparison", "ge")
    page.fill("#id_threshold", "1")
    page.fill("#id_window_seconds", "60")
    page.select_option("#id_severity", "critical")
    page.select_option("#id_category", "service")
    for channel in ("in_app", "email", "webhook"):
        page.check(f"input[name=channels][value={channel}]")
    page.fill("#id_email_to", "desk-ops@example.test")
    page.fill("#id_webhook_url", webhook_server.url)
    page.click("[data-testid=save-rule]")
    expect(page.locator("[data-testid=error-metric]")).to_contain_text("Unknown metric 'queue_lenght'")
    shot(page, "02-rule-refused")
    page.fill("#id_metric", "celery_queue_depth")
    page.click("[data-testid=save-rule]")
    row = page.locator('tr[data-rule="Node queue backlog (browser)"]')
    expect(row).to_contain_text("celery_queue_depth ≥ 1")
    rule = AlertRule.objects.get(name="Node queue backlog (browser)")

    # --- "send test alert": toast on the page, webhook and email delivered -----------------
    expect(page.locator("#live-conn")).to_have_attribute("data-state", "ok")
    row.locator(f"[data-testid=test-rule-{rule.pk}]").click()
    expect(page.locator("#toasts .toast")).to_contain_text("Test alert for rule 'Node queue backlog (browser)'")
    shot(page, "03-test-alert-toast")
    wait_for(lambda: webhook_server.received and smtp_server.messages, timeout=30, what="test alert delivered")
    assert webhook_server.received[0]["text"].startswith("[CRITICAL] Test alert for rule")
    assert smtp_server.messages[0]["to"] == ["desk-ops@example.test"]

    # --- the rule triggered by a real condition (a backlog on the node queue) ----------------
    for _ in range(2):
        metrics_probe.apply_async(kwargs={"label": "backlog"}, queue="node")
    page.goto(base + "/monitoring/alerts/")
    expect(page.locator("#live-conn")).to_have_attribute("data-state", "ok")
    rules_evaluate()  # what the beat task does every 10 s
    rules_evaluate()
    expect(page.locator("#toasts")).to_contain_text("Node queue backlog (browser) (node)")
    incident = Alert.objects.get(dedup_key=f"rule:{rule.pk}:node")
    wait_for(
        lambda: AlertDelivery.objects.filter(alert=incident, status="sent").count() == 3,
        timeout=30,
        what="three deliveries of the incident",
    )
    assert len(webhook_server.received) == 2 and len(smtp_server.messages) == 2
    page.reload()
    incident_row = page.locator(f'tr[data-alert-id="{incident.pk}"]')
    expect(incident_row).to_contain_text("webhook sent")
    expect(incident_row).to_contain_text("email sent")
    shot(page, "04-alert-centre")
    incident_row.locator(f"[data-testid=ack-{incident.pk}]").click()
    expect(page.locator(f'tr[data-alert-id="{incident.pk}"]')).to_have_attribute("data-status", "acknowledged")
    page.locator(f"[data-testid=resolve-{incident.pk}]").click()
    expect(page.locator(f'tr[data-alert-id="{incident.pk}"]')).to_have_attribute("data-status", "resolved")
    redis_client().delete("node")

    # --- logs filtered and exported -------------------------------------------------------
    page.goto(base + "/monitoring/logs/")
    page.select_option("#id_level", "WARNING")
    page.fill("#id_text", "Test alert for rule")
    page.click("[data-testid=log-filter]")
    table = page.locator("[data-testid=log-table]")
    expect(table).to_contain_text("ALERT")
    levels = set(table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.level)"))
    assert levels and levels <= {"WARNING", "ERROR", "CRITICAL"}
    shot(page, "05-logs-filtered")
    with page.expect_download() as info:
        page.click("[data-testid=export-csv]")
    path = ARTIFACTS / "logs-export.csv"
    info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert rows and all("Test alert for rule" in r["message"] for r in rows)
    assert {r["level"] for r in rows} <= {"WARNING", "ERROR", "CRITICAL"}
    assert any(r["role"] == "web" for r in rows)


def test_viewer_sees_metrics_but_no_rule_editing_or_logs(desk, page, role_users):
    log_in(page, desk["url"], "viewer")
    page.goto(desk["url"] + "/monitoring/rules/")
    expect(page.locator("[data-testid=new-rule]")).to_have_count(0)
    expect(page.locator("[data-testid=monitoring-tabs]")).not_to_contain_text("Logs")
    assert page.goto(desk["url"] + "/monitoring/logs/").status == 403
    assert Role.VIEWER in role_users
