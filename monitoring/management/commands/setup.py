"""``manage.py setup --init-db`` and ``manage.py setup --validate`` (the seed's scripts/setup.py).

--init-db   migrate; role groups and their model permissions; reference data;
            default global risk limits from MAX_POSITION_SIZE / MAX_DAILY_LOSS;
            every app's ``schedule.py`` synced into django-celery-beat.
            Idempotent: a second run changes nothing.
--validate  configuration and every dependency through the health checks, as a
            table (or ``--json``); exits 1 when a required part is down.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from monitoring.health import checks
from monitoring.roles import ROLE_GROUPS, Role

# Apps whose models the desk's roles see.
DESK_APPS = ("trading", "risk", "portfolio", "strategies", "monitoring")
# Model permissions beyond "view" per role (Admin gets every permission).
ROLE_EXTRA_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    Role.VIEWER: (),
    Role.TRADER: (),
    Role.RISK_MANAGER: ("risk.add_risklimit", "risk.change_risklimit", "risk.add_killswitch", "risk.change_killswitch"),
}
# Default global limits from the environment: (setting, kind, name).
DEFAULT_LIMITS = (
    ("MAX_POSITION_SIZE", "max_position_notional", "Default max position notional (MAX_POSITION_SIZE)"),
    ("MAX_DAILY_LOSS", "daily_loss", "Default max daily loss (MAX_DAILY_LOSS)"),
)
DEFAULT_LIMIT_CURRENCY = "USD"
SCHEDULE_MARKER = "Managed by `manage.py setup --init-db` from {module}; edits to the interval are overwritten."


# ---------------------------------------------------------------------------
# --init-db steps (each idempotent)
# ---------------------------------------------------------------------------


def role_permissions_ensure() -> dict[str, int]:
    """Each role group holds exactly the model permissions its role implies."""
    from monitoring.services import roles_ensure_groups

    groups = roles_ensure_groups()
    view = Permission.objects.filter(content_type__app_label__in=DESK_APPS, codename__startswith="view_")
    counts = {}
    for role, group in groups.items():
        if role == Role.ADMIN:
            perms = list(Permission.objects.all())
        else:
            extra = []
            for dotted in ROLE_EXTRA_PERMISSIONS[role]:
                app_label, codename = dotted.split(".")
                extra.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
            perms = [*view, *extra]
        group.permissions.set(perms)
        counts[group.name] = len(perms)
    # The admin site needs is_staff: Risk Managers (limits) and Admins, as user_create_with_role sets it.
    staff_groups = [ROLE_GROUPS[Role.RISK_MANAGER], ROLE_GROUPS[Role.ADMIN]]
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(groups__name__in=staff_groups, is_staff=False).update(is_staff=True)
    return counts


def default_limits_ensure() -> list[str]:
    """Create the global limits from the environment once; never touch one that exists.

    "Exists" means any global limit of that kind, enabled or not: a Risk Manager
    who edited or disabled it has decided, and a restart must not undo that.
    """
    from risk.limits import risk_limit_create
    from risk.models import RiskLimit

    created = []
    for setting, kind, name in DEFAULT_LIMITS:
        if RiskLimit.objects.filter(scope="global", kind=kind).exists():
            continue
        risk_limit_create(
            user=None,
            via="system",
            name=name,
            scope="global",
            kind=kind,
            value=Decimal(getattr(settings, setting)),
            currency=DEFAULT_LIMIT_CURRENCY,
            params={"source": f"env:{setting}"},
            enabled=True,
        )
        created.append(kind)
    return created


@dataclass(frozen=True)
class ScheduledTask:
    name: str
    task: str
    every: int
    module: str
    queue: str | None = None
    args: list | None = None
    kwargs: dict | None = None
    enabled: bool = True


def _resolve_every(module: str, entry: dict[str, Any]) -> int:
    every = entry.get("every")
    label = f"{module}: task {entry.get('name')!r}"
    if isinstance(every, str):
        if not hasattr(settings, every):
            raise CommandError(f"{label}: 'every' names the setting {every!r}, which does not exist.")
        every = getattr(settings, every)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise CommandError(f"{label}: 'every' must be a whole number of seconds >= 1 (got {every!r}).")
    return every


def declared_periodic_tasks() -> list[ScheduledTask]:
    """Every ``PERIODIC_TASKS`` entry of every installed app's ``schedule.py``, validated."""
    found: list[ScheduledTask] = []
    for config in apps.get_app_configs():
        module_name = f"{config.name}.schedule"
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        entries = getattr(module, "PERIODIC_TASKS", None)
        if not isinstance(entries, list):
            raise CommandError(f"{module_name}: PERIODIC_TASKS must be a list of dicts.")
        for entry in entries:
            if not isinstance(entry, dict):
                raise CommandError(f"{module_name}: each PERIODIC_TASKS entry must be a dict, got {entry!r}.")
            for key in ("name", "task"):
                if not isinstance(entry.get(key), str) or not entry[key].strip():
                    raise CommandError(f"{module_name}: entry {entry!r} needs a non-empty string {key!r}.")
            found.append(
                ScheduledTask(
                    name=entry["name"],
                    task=entry["task"],
                    every=_resolve_every(module_name, entry),
                    module=module_name,
                    queue=entry.get("queue"),
                    args=entry.get("args"),
                    kwargs=entry.get("kwargs"),
                    enabled=entry.get("enabled", True),
                )
            )
    names = [t.name for t in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CommandError(f"Periodic task names must be unique across apps; repeated: {', '.join(duplicates)}.")
    return found


@transaction.atomic
def periodic_tasks_sync() -> dict[str, list[str]]:
    """Make django-celery-beat's table match the declared schedules.

    Creates missing tasks, updates the interval/task of managed ones when the
    declaration or a setting changed (an operator's enabled/disabled choice is
    kept), and removes managed tasks no app declares any more.
    """
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    report: dict[str, list[str]] = {"created": [], "updated": [], "removed": [], "unchanged": []}
    declared = declared_periodic_tasks()
    for item in declared:
        interval, _ = IntervalSchedule.objects.get_or_create(every=item.every, period=IntervalSchedule.SECONDS)
        wanted = {
            "task": item.task,
            "interval": interval,
            "queue": item.queue,
            "args": json.dumps(item.args or []),
            "kwargs": json.dumps(item.kwargs or {}),
            # A tick nobody ran within its own period is stale: drop it rather than pile up.
            "expire_seconds": item.every,
            "description": SCHEDULE_MARKER.format(module=item.module),
        }
        existing = PeriodicTask.objects.filter(name=item.name).first()
        if existing is None:
            PeriodicTask.objects.create(name=item.name, enabled=item.enabled, **wanted)
            report["created"].append(item.name)
            continue
        changed = [k for k, v in wanted.items() if getattr(existing, k) != v]
        if changed:
            for key in changed:
                setattr(existing, key, wanted[key])
            existing.save()
            report["updated"].append(item.name)
        else:
            report["unchanged"].append(item.name)
    managed = PeriodicTask.objects.filter(description__startswith="Managed by `manage.py setup --init-db`")
    for stale in managed.exclude(name__in=[t.name for t in declared]):
        report["removed"].append(stale.name)
        stale.delete()
    return report


# ---------------------------------------------------------------------------
# --validate rows
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    component: str
    status: str
    detail: str
    required: bool

    @property
    def failed(self) -> bool:
        return self.required and self.status == checks.DOWN


def _settings_row() -> Row:
    problems = []
    if settings.DEBUG:
        problems.append("DEBUG is on")
    if len(settings.SECRET_KEY) < 32:
        problems.append("SECRET_KEY is shorter than 32 characters")
    detail = f"loaded (environment, then {settings.ENV_FILE})"
    if problems:
        return Row("settings", checks.DEGRADED, f"{detail}; {'; '.join(problems)}", True)
    return Row("settings", checks.OK, detail, True)


def _nautilus_config_row() -> Row:
    path = Path(settings.NAUTILUS_CONFIG_PATH)
    try:
        from trading.node.config import NodeConfigError, load_node_config
    except ImportError:
        # Before the node's validator existed: the file must at least parse and name a trader.
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            return Row("nautilus_config", checks.DOWN, f"NAUTILUS_CONFIG_PATH={path}: {exc}", True)
        if not isinstance(data, dict) or "trader_id" not in data:
            return Row("nautilus_config", checks.DOWN, f"NAUTILUS_CONFIG_PATH={path}: trader_id is required", True)
        return Row("nautilus_config", checks.OK, f"{path} parses (trader {data['trader_id']})", True)
    try:
        node = load_node_config(path)
    except NodeConfigError as exc:
        return Row("nautilus_config", checks.DOWN, checks.mask_secrets(f"NAUTILUS_CONFIG_PATH={path}: {exc}"), True)
    return Row("nautilus_config", checks.OK, f"{path} valid (trader {node.trader_id})", True)


def _writable_dir_row(component: str, setting: str, path: Path) -> Row:
    if path.is_dir():
        if os.access(path, os.W_OK):
            return Row(component, checks.OK, f"{path} exists and is writable", True)
        return Row(component, checks.DOWN, f"{setting}={path} is not writable", True)
    if path.exists():
        return Row(component, checks.DOWN, f"{setting}={path} is not a directory", True)
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and os.access(parent, os.W_OK):
        return Row(component, checks.DEGRADED, f"{path} does not exist yet (will be created)", True)
    return Row(component, checks.DOWN, f"{setting}={path} does not exist and cannot be created", True)


def _periodic_tasks_row() -> Row:
    from config.celery import app

    try:
        declared = declared_periodic_tasks()
    except CommandError as exc:
        return Row("periodic_tasks", checks.DOWN, str(exc), True)
    app.loader.import_default_modules()
    unknown = [f"{t.name} -> {t.task}" for t in declared if t.task not in app.tasks]
    if unknown:
        return Row("periodic_tasks", checks.DOWN, f"tasks not registered with Celery: {'; '.join(unknown)}", True)
    return Row("periodic_tasks", checks.OK, f"{len(declared)} declared, every task registered", True)


def validation_rows(*, require_processes: bool) -> list[Row]:
    rows = [
        _settings_row(),
        _nautilus_config_row(),
        _writable_dir_row("nautilus_data_path", "NAUTILUS_DATA_PATH", Path(settings.NAUTILUS_DATA_PATH)),
        _writable_dir_row("log_dir", "LOG_DIR", Path(settings.LOG_DIR)),
        _periodic_tasks_row(),
    ]
    names = [*checks.DEPENDENCIES, *checks.OPTIONAL, *checks.PROCESSES]
    results = checks.run_checks(names)
    for name in names:
        result = results[name]
        required = name in checks.DEPENDENCIES or (require_processes and name in checks.PROCESSES)
        rows.append(Row(name, result.status, result.detail, required))
    return rows


def format_table(rows: list[Row]) -> str:
    header = ("component", "status", "required", "detail")
    body = [(r.component, r.status.upper(), "yes" if r.required else "no", r.detail) for r in rows]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(3)]

    def line(cells) -> str:
        return " | ".join(str(c).ljust(widths[i]) if i < 3 else str(c) for i, c in enumerate(cells))

    rule = "-+-".join("-" * w for w in widths) + "-+-" + "-" * 40
    return "\n".join([line(header), rule, *(line(cells) for cells in body)])


class Command(BaseCommand):
    help = "Initialise the database (--init-db) and/or validate configuration and dependencies (--validate)."

    def add_arguments(self, parser):
        parser.add_argument("--init-db", action="store_true", help="Migrate and install groups, limits, schedules.")
        parser.add_argument("--validate", action="store_true", help="Check configuration and every dependency.")
        parser.add_argument("--json", action="store_true", help="With --validate: print JSON instead of a table.")
        parser.add_argument(
            "--require-processes",
            action="store_true",
            help="With --validate: also fail when the desk's own processes (workers, node, risk monitor, "
            "position sync, feeds) are not up.",
        )

    def handle(self, *args, **options):
        if not options["init_db"] and not options["validate"]:
            raise CommandError("Say what to do: --init-db, --validate, or both.")
        if options["init_db"]:
            self.init_db(verbosity=options["verbosity"])
        if options["validate"]:
            self.validate(as_json=options["json"], require_processes=options["require_processes"])

    def init_db(self, *, verbosity: int) -> None:
        say = self.stdout.write
        call_command("migrate", interactive=False, verbosity=max(0, verbosity - 1))
        say("[1/5] database migrated")
        counts = role_permissions_ensure()
        say("[2/5] role groups: " + ", ".join(f"{name} ({n} permissions)" for name, n in counts.items()))
        from trading.services import reference_data_ensure

        made = reference_data_ensure()
        say("[3/5] reference data: " + ", ".join(f"{n} {kind} created" for kind, n in made.items()))
        limits = default_limits_ensure()
        say(f"[4/5] default global limits: {', '.join(limits) + ' created' if limits else 'already present'}")
        report = periodic_tasks_sync()
        changed = report["created"] + report["updated"] + report["removed"]
        counts = ", ".join(f"{len(v)} {k}" for k, v in report.items())
        say(f"[5/5] periodic tasks: {counts}" + (f" ({', '.join(changed)})" if changed else ""))
        from monitoring.alerting.rules import builtin_rules_ensure

        rules = builtin_rules_ensure()
        say(f"[+] built-in alert rules: {', '.join(rules) + ' created' if rules else 'already present'}")
        self.stdout.write(self.style.SUCCESS("Database initialised."))

    def validate(self, *, as_json: bool, require_processes: bool) -> None:
        rows = validation_rows(require_processes=require_processes)
        failed = [r for r in rows if r.failed]
        if as_json:
            payload = {
                "status": "down" if failed else "ok",
                "components": [
                    {"component": r.component, "status": r.status, "required": r.required, "detail": r.detail}
                    for r in rows
                ],
            }
            self.stdout.write(json.dumps(payload, indent=2))
        else:
            self.stdout.write(format_table(rows))
            if failed:
                self.stdout.write(self.style.ERROR(f"\nFAILED: {', '.join(r.component for r in failed)}"))
            else:
                self.stdout.write(self.style.SUCCESS("\nAll required parts are up."))
        if failed:
            raise SystemExit(1)
