"""``manage.py setup --init-db`` and ``--validate``."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from tests.ops.conftest import closed_postgres_url, manage
from tests.processes import child_env


def _init_db() -> str:
    out = io.StringIO()
    call_command("setup", init_db=True, stdout=out)
    return out.getvalue()


def _state() -> dict:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from monitoring.models import AuditLog
    from risk.models import RiskLimit
    from trading.models import Account, Instrument, Sector, Venue

    return {
        "groups": {g.name: sorted(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()},
        "limits": list(RiskLimit.objects.order_by("id").values_list("kind", "value", "version")),
        "reference": [m.objects.count() for m in (Sector, Venue, Account, Instrument)],
        "tasks": sorted(PeriodicTask.objects.values_list("name", "task", "interval__every", "enabled")),
        "intervals": IntervalSchedule.objects.count(),
        "audit": AuditLog.objects.count(),
    }


def test_init_db_installs_groups_limits_reference_data_and_schedules(transactional_db, settings):
    from django_celery_beat.models import PeriodicTask

    from risk.models import RiskLimit

    output = _init_db()
    assert "[5/5]" in output
    assert set(Group.objects.values_list("name", flat=True)) == {"Viewer", "Trader", "Risk Manager", "Admin"}

    risk = set(Group.objects.get(name="Risk Manager").permissions.values_list("codename", flat=True))
    assert {"add_risklimit", "change_risklimit", "add_killswitch", "change_killswitch", "view_order"} <= risk
    assert "delete_risklimit" not in risk and "change_order" not in risk
    viewer = set(Group.objects.get(name="Viewer").permissions.values_list("codename", flat=True))
    assert viewer and all(code.startswith("view_") for code in viewer)
    admin = Group.objects.get(name="Admin").permissions
    assert admin.filter(codename="delete_risklimit").exists() and admin.filter(codename="add_user").exists()

    limits = {limit.kind: limit for limit in RiskLimit.objects.filter(scope="global")}
    assert limits["max_position_notional"].value == settings.MAX_POSITION_SIZE
    assert limits["daily_loss"].value == settings.MAX_DAILY_LOSS
    assert limits["daily_loss"].currency == "USD" and limits["daily_loss"].enabled

    heartbeat = PeriodicTask.objects.get(task="monitoring.heartbeat")
    assert heartbeat.interval.every == 5 and heartbeat.interval.period == "seconds"
    health = PeriodicTask.objects.get(task="monitoring.health_check")
    assert health.interval.every == settings.HEALTH_CHECK_INTERVAL


def test_init_db_twice_changes_nothing(transactional_db):
    _init_db()
    before = _state()
    _init_db()
    assert _state() == before


def test_init_db_never_overwrites_an_edited_default_limit(transactional_db):
    from risk.limits import risk_limit_update
    from risk.models import RiskLimit

    _init_db()
    limit = RiskLimit.objects.get(scope="global", kind="daily_loss")
    risk_limit_update(limit=limit, user=None, value=Decimal("1234.50"), enabled=False)
    _init_db()
    limit.refresh_from_db()
    assert (limit.value, limit.enabled, limit.version) == (Decimal("1234.50"), False, 2)
    assert RiskLimit.objects.filter(scope="global", kind="daily_loss").count() == 1


def test_init_db_follows_interval_settings_and_keeps_an_operator_disabled_task_disabled(transactional_db, settings):
    from django_celery_beat.models import PeriodicTask

    settings.HEALTH_CHECK_INTERVAL = 7
    _init_db()
    task = PeriodicTask.objects.get(task="monitoring.health_check")
    assert task.interval.every == 7
    task.enabled = False
    task.save()

    settings.HEALTH_CHECK_INTERVAL = 11
    output = _init_db()
    task = PeriodicTask.objects.get(task="monitoring.health_check")
    assert (task.interval.every, task.enabled) == (11, False)
    assert "1 updated" in output
    assert PeriodicTask.objects.filter(task="monitoring.health_check").count() == 1


def test_init_db_removes_a_managed_task_no_app_declares_any_more(transactional_db):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    _init_db()
    marker = PeriodicTask.objects.get(task="monitoring.heartbeat").description
    every = IntervalSchedule.objects.first()
    PeriodicTask.objects.create(name="retired task", task="monitoring.retired", interval=every, description=marker)
    PeriodicTask.objects.create(name="operator's own", task="monitoring.heartbeat", interval=every)
    _init_db()
    assert not PeriodicTask.objects.filter(name="retired task").exists()
    assert PeriodicTask.objects.filter(name="operator's own").exists()


def test_validate_passes_with_every_dependency_up(db):
    result = manage("setup", "--validate", "--json", env=child_env())
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    rows = {row["component"]: row for row in report["components"]}
    assert report["status"] == "ok"
    for name in ("settings", "nautilus_config", "postgres", "redis", "channel_layer", "periodic_tasks"):
        assert rows[name]["required"] and rows[name]["status"] == "ok", rows[name]
    # No worker, node or risk monitor runs here: reported, not required by default.
    assert rows["celery"]["status"] == "down" and not rows["celery"]["required"]


def test_validate_fails_and_shows_postgres_down_when_the_database_is_unreachable(db):
    result = manage("setup", "--validate", env=child_env(DATABASE_URL=closed_postgres_url()))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split("|")[0].strip() == "component"
    postgres = next(line for line in lines if line.startswith("postgres "))
    cells = [cell.strip() for cell in postgres.split("|")]
    assert cells[:3] == ["postgres", "DOWN", "yes"]
    assert "connection" in cells[3].lower()
    assert "FAILED: postgres" in result.stdout


def test_validate_names_a_broken_node_config(db, tmp_path):
    broken = tmp_path / "nautilus.json"
    broken.write_text('{"trader_id": "TRADER-001", "risk_engine": {"max_order_submit_rate": "fast"}}')
    result = manage("setup", "--validate", "--json", env=child_env(NAUTILUS_CONFIG_PATH=str(broken)))
    assert result.returncode == 1
    rows = {row["component"]: row for row in json.loads(result.stdout)["components"]}
    assert rows["nautilus_config"]["status"] == "down"
    assert "max_order_submit_rate" in rows["nautilus_config"]["detail"]


def test_validate_can_require_the_desks_own_processes(db):
    result = manage("setup", "--validate", "--json", "--require-processes", env=child_env())
    assert result.returncode == 1
    failed = {
        row["component"]
        for row in json.loads(result.stdout)["components"]
        if row["required"] and row["status"] == "down"
    }
    assert {"celery", "nautilus", "risk_gate", "f8_integration", "data_feeds"} <= failed


def test_setup_without_an_action_is_refused():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--init-db"):
        call_command("setup")
