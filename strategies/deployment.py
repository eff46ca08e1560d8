"""Deployment and orchestration: validate, deploy to simulation, pause, resume, stop, promote to live.

Statuses move along one table (``TRANSITIONS``): draft → validated → simulation
⇄ paused → stopped (→ deleted by ``strategies.services.strategy_delete``).
Every move is checked against it, written with its audit entry in one
transaction, and the node is told after commit over its command stream
(``trading.commands``: ``deploy_strategy``, ``pause_strategy``,
``resume_strategy``, ``stop_strategy``), where ``trading.node.strategy_host``
adds the strategy to the running trader or removes it — the other strategies
keep running. When the node (re)starts it loads every strategy whose status is
simulation or live (``deployed_strategy_configs``, called by the node builder).

Which exact version runs is a ``StrategyDeployment`` row (with its spec hash).
"Deploy to Live" is a promotion request of that exact version, allowed only
when the gate checks pass (``live_gate_checks``: validation, a backtest, the
minimum period in simulation, and simulated returns within the declared drift
bound of the backtest's over the same period, ``strategies.comparison``) and decided by an Admin or
Risk Manager other than the requester. This desk has no live venue: an
approved promotion is recorded, and the strategy keeps running in simulation.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from config.api import ConflictError
from monitoring.audit import audit_record
from monitoring.broadcast import publish_on_commit
from monitoring.roles import Role, has_role
from strategies.models import RunStatus, Strategy, StrategyDeployment, StrategyVersion
from strategies.spec import BUILTIN_TYPES, ValidationResult

logger = logging.getLogger(__name__)

S = Strategy.Status
# action -> statuses it may start from -> the status it leads to
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "validate": (frozenset({S.DRAFT, S.VALIDATED, S.STOPPED}), None),  # None: draft/validated by the result
    "deploy": (frozenset({S.DRAFT, S.VALIDATED, S.STOPPED, S.SIMULATION}), S.SIMULATION),
    "pause": (frozenset({S.SIMULATION, S.LIVE}), S.PAUSED),
    "resume": (frozenset({S.PAUSED}), S.SIMULATION),
    "stop": (frozenset({S.SIMULATION, S.LIVE, S.PAUSED}), S.STOPPED),
}
NODE_STATES_KEY = "ni:node:{trader_id}:strategies"
DEFAULT_LIVE_MIN_SIMULATION = timedelta(days=1)
DEFAULT_LIVE_DRIFT_BOUND_PP = Decimal("0.50")


def live_min_simulation() -> timedelta:
    """How long the exact version must have run in simulation before it may go live.

    ``settings.STRATEGY_LIVE_MIN_SIMULATION_SECONDS`` when set, else one day.
    """
    seconds = getattr(settings, "STRATEGY_LIVE_MIN_SIMULATION_SECONDS", None)
    return timedelta(seconds=int(seconds)) if seconds is not None else DEFAULT_LIVE_MIN_SIMULATION


def live_drift_bound(version: StrategyVersion) -> tuple[Decimal, str]:
    """How far (percentage points of the allocation) simulated returns may drift from the backtest's, and who said so.

    The spec's ``risk.live_drift_bound`` when declared (validation keeps it in
    (0, 100]), else ``settings.STRATEGY_LIVE_DRIFT_BOUND_PP``, else 0.50 pp.
    """
    from strategies.spec import parse_decimal

    risk = version.spec.get("risk") if isinstance(version.spec.get("risk"), dict) else {}
    declared = parse_decimal(risk.get("live_drift_bound"))
    if declared is not None and declared > 0:
        return declared, "declared by the spec"
    setting = getattr(settings, "STRATEGY_LIVE_DRIFT_BOUND_PP", None)
    if setting is not None:
        return Decimal(str(setting)), "the desk's default"
    return DEFAULT_LIVE_DRIFT_BOUND_PP, "the desk's default"


def _allowed(strategy: Strategy, action: str) -> None:
    sources, _ = TRANSITIONS[action]
    if strategy.status not in sources:
        allowed = ", ".join(sorted(str(s) for s in sources))
        raise ConflictError(
            f"Strategy {strategy.name!r} is {strategy.get_status_display().lower()}; "
            f"{action} needs it to be one of: {allowed}.",
            code="strategy_state",
            extra={"status": strategy.status, "action": action},
        )


def _locked(strategy: Strategy) -> Strategy:
    return (
        Strategy.objects.select_for_update(of=("self",))
        .select_related("current_version", "account")
        .get(pk=strategy.pk)
    )


def _payload(strategy: Strategy, **extra: Any) -> dict[str, Any]:
    return {
        "id": strategy.pk,
        "name": strategy.name,
        "status": strategy.status,
        "version": strategy.current_version.number if strategy.current_version else None,
        **extra,
    }


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def version_problems(version: StrategyVersion | None, *, strategy: Strategy) -> ValidationResult:
    """Every problem of ``version`` for ``strategy``; never raises (an engine crash is a problem too)."""
    from strategies.translation import spec_validate

    result = ValidationResult()
    if version is None:
        result.add("", "the strategy has no version to validate")
        return result
    try:
        result = spec_validate(version.spec, strategy_id=strategy.pk)
    except Exception as exc:  # a custom strategy's import can raise anything: report it, never 500
        logger.exception("validation of %s crashed", version)
        result.add("", f"the engine could not check this spec: {type(exc).__name__}: {exc}")
    spec = version.spec if isinstance(version.spec, dict) else {}
    if spec.get("type") not in (None, strategy.strategy_type):
        result.add("type", f"is {spec.get('type')!r} but the strategy is of type {strategy.strategy_type!r}")
    return result


def problems_error(result: ValidationResult) -> ValidationError:
    """A ``ValidationError`` keyed by each problem's path (``spec`` when it has none)."""
    errors: dict[str, list[str]] = {}
    for problem in result.problems:
        errors.setdefault(problem.path or "spec", []).append(problem.message)
    return ValidationError(errors)


def strategy_validate(*, strategy: Strategy, user, via: str | None = None) -> ValidationResult:
    """Validate the current version; draft ⇄ validated follows the result (running strategies keep their status)."""
    result = version_problems(strategy.current_version, strategy=strategy)
    with transaction.atomic():
        current = _locked(strategy)
        if current.status == S.DELETED:
            raise ConflictError(f"Strategy {current.name!r} is deleted.", code="strategy_deleted")
        before = current.status
        if current.current_version_id != (strategy.current_version_id):
            # Edited meanwhile: validate what is current now.
            result = version_problems(current.current_version, strategy=current)
        if before in (S.DRAFT, S.VALIDATED, S.STOPPED):
            current.status = S.VALIDATED if result.ok else (S.DRAFT if before == S.VALIDATED else before)
            if current.status != before:
                current.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=user,
            action="strategy.validate",
            obj=current,
            changes={
                "status": [before, current.status],
                "version": [None, current.current_version.number if current.current_version else None],
                "problems": [None, len(result.problems)],
            },
            message="passed" if result.ok else "; ".join(result.messages())[:1000],
            via=via,
        )
        publish_on_commit("strategies", "strategy_validated", _payload(current, ok=result.ok))
    strategy.refresh_from_db()
    return result


# ---------------------------------------------------------------------------
# What the node runs
# ---------------------------------------------------------------------------


def node_strategy_config(version: StrategyVersion) -> dict[str, Any]:
    """The ``ImportableStrategyConfig`` (as JSON primitives) that runs ``version`` on the node.

    Built by ``strategies.translation.strategy_deploy_plan`` (which re-validates and
    raises ``SpecError``), then adjusted for the live node: our strategies keep their
    positions when stopped (Stop and Stop-and-flatten are different commands), and on
    a simulated venue, which publishes quotes but no bars, the engine aggregates the
    bars from quotes (``INTERNAL`` instead of ``EXTERNAL``).
    """
    from strategies.translation import strategy_deploy_plan
    from trading.models import Account

    config = strategy_deploy_plan(version)
    raw = dict(config.config)
    spec = version.spec
    if spec.get("type") in BUILTIN_TYPES:
        raw["close_positions_on_stop"] = False
    account = Account.objects.select_related("venue").filter(name=spec.get("account")).first()
    bar_type = raw.get("bar_type")
    if account is not None and account.venue.adapter == "simulated" and isinstance(bar_type, str):
        if bar_type.endswith("-EXTERNAL"):
            raw["bar_type"] = bar_type.removesuffix("-EXTERNAL") + "-INTERNAL"
    return {"strategy_path": config.strategy_path, "config_path": config.config_path, "config": raw}


def nautilus_strategy_id(plan: dict[str, Any], strategy: Strategy) -> str:
    return f"{plan['strategy_path'].rpartition(':')[2]}-{strategy.order_id_tag}"


def deployed_strategy_configs() -> list:
    """Every strategy the node must run at start (status simulation or live), as ``ImportableStrategyConfig``.

    A strategy whose deployed version no longer validates is left out (fail
    closed) and an alert says so; the desk keeps its status so a human decides.
    """
    from nautilus_trader.config import ImportableStrategyConfig

    from monitoring.models import Alert
    from strategies.translation import SpecError

    configs = []
    running = Strategy.objects.filter(status__in=(S.SIMULATION, S.LIVE)).select_related("current_version")
    for strategy in running:
        deployment = _active_deployment(strategy)
        version = deployment.version if deployment else strategy.current_version
        if version is None:
            continue
        try:
            configs.append(ImportableStrategyConfig(**node_strategy_config(version)))
        except (SpecError, Exception) as exc:
            logger.error("strategy %s v%s not loaded on the node: %s", strategy, version.number, exc)
            Alert.objects.create(
                severity=Alert.Severity.WARNING,
                category=Alert.Category.SERVICE,
                title=f"Strategy {strategy.name} not loaded on the node",
                message=f"v{version.number} no longer validates: {exc}"[:1000],
                source="strategies.deployment",
                details={"strategy": strategy.pk, "version": version.number},
            )
    return configs


def _active_deployment(strategy: Strategy) -> StrategyDeployment | None:
    return (
        StrategyDeployment.objects.select_related("version")
        .filter(strategy=strategy, target=StrategyDeployment.Target.SIMULATION, state=StrategyDeployment.State.ACTIVE)
        .first()
    )


def _send_on_commit(type_: str, body: dict[str, Any]) -> None:
    """Tell the node after commit. If Redis is unreachable the desk row stands and the page
    shows the node without it (a node restart loads it from the database anyway)."""

    def send() -> None:
        from trading.commands import command_send

        try:
            command_send(type_, body)
        except Exception:
            logger.exception("node command %s for strategy %s not sent", type_, body.get("strategy"))

    transaction.on_commit(send)


def _command_body(strategy: Strategy, version: StrategyVersion, plan: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "strategy": strategy.pk,
        "order_id_tag": strategy.order_id_tag,
        "version": version.number,
        "spec_hash": version.spec_hash,
    }
    if plan is not None:
        body["config"] = plan
        body["strategy_id"] = nautilus_strategy_id(plan, strategy)
    return body


# ---------------------------------------------------------------------------
# Transitions
# ---------------------------------------------------------------------------


def strategy_deploy(*, strategy: Strategy, user, via: str | None = None) -> StrategyDeployment:
    """Deploy the current version to the simulated account: validate, record, then add it to the running node.

    From simulation it is a redeploy of a newer version (the node swaps the
    instance; other strategies are untouched). Raises ``ValidationError`` with
    every problem (nothing written) or ``ConflictError`` for a wrong status.
    """
    from strategies.translation import SpecError
    from trading.models import Account

    with transaction.atomic():
        current = _locked(strategy)
        _allowed(current, "deploy")
        version = current.current_version
        active = _active_deployment(current)
        if current.status == S.SIMULATION and active is not None and active.version_id == version.pk:
            raise ConflictError(
                f"Strategy {current.name!r} already runs v{version.number} in simulation.", code="already_deployed"
            )
        result = version_problems(version, strategy=current)
        if not result.ok:
            raise problems_error(result)
        try:
            plan = node_strategy_config(version)
        except SpecError as exc:
            raise problems_error(exc.result) from None
        account = Account.objects.get(name=version.spec["account"])
        before = current.status
        changes: dict[str, list[Any]] = {"status": [before, S.SIMULATION]}
        if active is not None:
            active.state = StrategyDeployment.State.ENDED
            active.ended_at = timezone.now()
            active.save(update_fields=["state", "ended_at"])
            changes["version"] = [active.version.number, version.number]
        else:
            changes["version"] = [None, version.number]
        changes["spec_hash"] = [active.spec_hash if active else None, version.spec_hash]
        if current.account_id != account.pk:
            changes["account"] = [str(current.account) if current.account else None, account.name]
            current.account = account
        current.status = S.SIMULATION
        current.save(update_fields=["status", "account", "updated_at"])
        deployment = StrategyDeployment.objects.create(
            strategy=current,
            version=version,
            spec_hash=version.spec_hash,
            target=StrategyDeployment.Target.SIMULATION,
            state=StrategyDeployment.State.ACTIVE,
            requested_by=user if getattr(user, "is_authenticated", False) else None,
        )
        audit_record(
            actor=user,
            action="strategy.deploy",
            obj=current,
            changes=changes,
            via=via,
            message=f"v{version.number} to simulation on {account.name}",
        )
        _send_on_commit("deploy_strategy", _command_body(current, version, plan))
        publish_on_commit("strategies", "strategy_deployed", _payload(current))
    strategy.refresh_from_db()
    return deployment


def strategy_pause(*, strategy: Strategy, user, via: str | None = None) -> Strategy:
    """Take it off the node; its orders are canceled, its positions and its capital stay committed."""
    return _stop_like(strategy=strategy, user=user, via=via, action="pause", flatten=False)


def strategy_stop(*, strategy: Strategy, user, flatten: bool = False, via: str | None = None) -> Strategy:
    """Stop it (and with ``flatten`` close its positions at market first). Ends its deployment."""
    return _stop_like(strategy=strategy, user=user, via=via, action="stop", flatten=flatten)


def _stop_like(*, strategy: Strategy, user, via: str | None, action: str, flatten: bool) -> Strategy:
    with transaction.atomic():
        current = _locked(strategy)
        _allowed(current, action)
        _, target = TRANSITIONS[action]
        active = _active_deployment(current)
        version = active.version if active else current.current_version
        before = current.status
        current.status = target
        current.save(update_fields=["status", "updated_at"])
        if action == "stop" and active is not None:
            active.state = StrategyDeployment.State.ENDED
            active.ended_at = timezone.now()
            active.save(update_fields=["state", "ended_at"])
        changes: dict[str, list[Any]] = {"status": [before, current.status]}
        if flatten:
            changes["flatten"] = [False, True]
        audit_record(
            actor=user,
            action=f"strategy.{action}",
            obj=current,
            changes=changes,
            via=via,
            message="stop and flatten" if flatten else "",
        )
        body = _command_body(current, version, None)
        body["strategy_id"] = _node_id(current, version)
        body["flatten"] = flatten
        _send_on_commit(f"{action}_strategy", body)
        publish_on_commit(
            "strategies", f"strategy_{action}ped" if action == "stop" else "strategy_paused", _payload(current)
        )
    strategy.refresh_from_db()
    return current


def _node_id(strategy: Strategy, version: StrategyVersion | None) -> str:
    from strategies.translation import STRATEGY_CLASSES

    spec = version.spec if version is not None else {}
    path = (
        spec.get("strategy_path") if spec.get("type") == "custom" else STRATEGY_CLASSES.get(spec.get("type"), ("",))[0]
    )
    return f"{str(path or '').rpartition(':')[2]}-{strategy.order_id_tag}"


def strategy_resume(*, strategy: Strategy, user, via: str | None = None) -> Strategy:
    """Put the paused deployment's version back on the node (re-validated first)."""
    from strategies.translation import SpecError

    with transaction.atomic():
        current = _locked(strategy)
        _allowed(current, "resume")
        active = _active_deployment(current)
        version = active.version if active else current.current_version
        result = version_problems(version, strategy=current)
        if not result.ok:
            raise problems_error(result)
        try:
            plan = node_strategy_config(version)
        except SpecError as exc:
            raise problems_error(exc.result) from None
        before = current.status
        current.status = S.SIMULATION
        current.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=user, action="strategy.resume", obj=current, changes={"status": [before, current.status]}, via=via
        )
        _send_on_commit("resume_strategy", _command_body(current, version, plan))
        publish_on_commit("strategies", "strategy_resumed", _payload(current))
    strategy.refresh_from_db()
    return current


# ---------------------------------------------------------------------------
# Deploy to Live: a gated, approved promotion of one exact version
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GateCheck:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def live_gate_checks(strategy: Strategy) -> list[GateCheck]:
    """What a promotion of the current version to live requires, each with why it passes or not."""
    from strategies.models import Backtest

    version = strategy.current_version
    checks: list[GateCheck] = []
    if version is None:
        return [GateCheck("version", False, "the strategy has no version")]
    short = version.spec_hash[:12]
    result = version_problems(version, strategy=strategy)
    checks.append(
        GateCheck(
            "validation",
            result.ok,
            f"v{version.number} ({short}) passes validation"
            if result.ok
            else f"{len(result.problems)} problem(s): " + "; ".join(result.messages()[:5]),
        )
    )
    backtest = (
        Backtest.objects.filter(
            strategy_version__strategy=strategy,
            strategy_version__spec_hash=version.spec_hash,
            status=RunStatus.SUCCEEDED,
            optimisation__isnull=True,
        )
        .order_by("-finished_at")
        .first()
    )
    checks.append(
        GateCheck(
            "backtest",
            backtest is not None,
            f"backtest #{backtest.pk} of this exact spec succeeded"
            if backtest
            else f"no completed backtest of {short}",
        )
    )
    needed = live_min_simulation()
    now = timezone.now()
    ran = timedelta(0)
    for deployment in StrategyDeployment.objects.filter(
        strategy=strategy, target=StrategyDeployment.Target.SIMULATION, spec_hash=version.spec_hash
    ):
        ran = max(ran, (deployment.ended_at or now) - deployment.started_at)
    running_now = strategy.status == S.SIMULATION
    checks.append(
        GateCheck(
            "simulation",
            ran >= needed and running_now,
            f"{_duration(ran)} in simulation of {short} (needs {_duration(needed)}"
            + (", and running now)" if not running_now else ")"),
        )
    )
    checks.append(_drift_check(strategy, version, needed))
    return checks


def _drift_check(strategy: Strategy, version: StrategyVersion, needed: timedelta) -> GateCheck:
    """Simulated return of this exact spec against its backtest over the same period, within the declared bound.

    Fails closed: no simulation run, no backtest covering it, a common window
    shorter than the minimum simulation period, or any figure that cannot be
    worked out (see ``strategies.comparison``) refuses the promotion and says why.
    """
    from strategies.comparison import performance_compare

    bound, source = live_drift_bound(version)
    comparison = performance_compare(strategy=strategy, spec_hash=version.spec_hash)
    if not comparison.ok:
        return GateCheck("drift", False, "; ".join(comparison.problems))
    backtest = comparison.backtest
    if comparison.window < needed:
        run_start = comparison.deployment.started_at
        return GateCheck(
            "drift",
            False,
            f"backtest #{backtest.pk} covers {_duration(comparison.window)} of the simulation of "
            f"{version.spec_hash[:12]} ({comparison.period_text()}; needs {_duration(needed)}): run a backtest of "
            f"v{version.number} from {run_start:%Y-%m-%d %H:%M} UTC to now",
        )
    within = comparison.drift_pp <= bound
    return GateCheck(
        "drift",
        within,
        f"{comparison.summary()} {'within' if within else 'beyond'} {bound:f} pp ({source}; "
        f"{comparison.fills} simulated fill(s), backtest on {backtest.data_source or 'unknown'} data)",
    )


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds} s"


def strategy_live_request(*, strategy: Strategy, user, via: str | None = None) -> StrategyDeployment:
    """Ask for the current version to go live; refused (400, each failed check named) unless every check passes."""
    with transaction.atomic():
        current = _locked(strategy)
        if StrategyDeployment.objects.filter(
            strategy=current, target=StrategyDeployment.Target.LIVE, state=StrategyDeployment.State.PENDING_APPROVAL
        ).exists():
            raise ConflictError(
                f"A live promotion of {current.name!r} is already waiting for approval.", code="live_pending"
            )
        checks = live_gate_checks(current)
        failed = [c for c in checks if not c.ok]
        if failed:
            raise ValidationError({f"live.{c.name}": [c.detail] for c in failed})
        version = current.current_version
        deployment = StrategyDeployment.objects.create(
            strategy=current,
            version=version,
            spec_hash=version.spec_hash,
            target=StrategyDeployment.Target.LIVE,
            state=StrategyDeployment.State.PENDING_APPROVAL,
            checks=[c.as_dict() for c in checks],
            requested_by=user if getattr(user, "is_authenticated", False) else None,
        )
        audit_record(
            actor=user,
            action="strategy.live_request",
            obj=current,
            via=via,
            changes={"live": [None, f"v{version.number} {version.spec_hash[:12]} pending approval"]},
        )
        publish_on_commit("strategies", "strategy_live_requested", _payload(current))
    return deployment


def strategy_live_decide(
    *, deployment: StrategyDeployment, user, approve: bool, reason: str = "", via: str | None = None
) -> StrategyDeployment:
    """An Admin or Risk Manager (not the requester) approves or rejects a pending promotion.

    Approval re-runs the checks on the same spec hash. With no live venue on this
    desk, an approved promotion is recorded and the strategy keeps running in simulation.
    """
    if not has_role(user, Role.RISK_MANAGER):
        raise PermissionDenied("Only an Admin or a Risk Manager decides a live promotion.")
    with transaction.atomic():
        current = (
            StrategyDeployment.objects.select_for_update(of=("self",))
            .select_related("strategy", "version")
            .get(pk=deployment.pk)
        )
        if current.state != StrategyDeployment.State.PENDING_APPROVAL:
            raise ConflictError(
                f"This promotion is already {current.get_state_display().lower()}.", code="live_decided"
            )
        if current.requested_by_id is not None and current.requested_by_id == getattr(user, "pk", None):
            raise ConflictError("The requester cannot approve their own promotion (four eyes).", code="four_eyes")
        strategy = _locked(current.strategy)
        if approve:
            if strategy.current_version_id != current.version_id:
                raise ConflictError(
                    "The strategy changed since the request; request the promotion again.", code="live_stale"
                )
            failed = [c for c in live_gate_checks(strategy) if not c.ok]
            if failed:
                raise ValidationError({f"live.{c.name}": [c.detail] for c in failed})
        before = current.state
        current.state = StrategyDeployment.State.APPROVED if approve else StrategyDeployment.State.REJECTED
        current.decided_by = user
        current.decided_at = timezone.now()
        current.reason = reason[:255]
        current.save(update_fields=["state", "decided_by", "decided_at", "reason"])
        audit_record(
            actor=user,
            action="strategy.live_decide",
            obj=strategy,
            via=via,
            message=reason[:500],
            changes={"live": [before, current.state], "spec_hash": [None, current.spec_hash]},
        )
        publish_on_commit("strategies", "strategy_live_decided", _payload(strategy, approved=approve))
    return current


# ---------------------------------------------------------------------------
# Versions: restore, diff, export/import
# ---------------------------------------------------------------------------


def strategy_version_restore(*, strategy: Strategy, number: int, user, via: str | None = None) -> Strategy:
    """A new version carrying the spec of version ``number`` (history is never rewritten)."""
    from strategies.services import strategy_update

    try:
        old = strategy.versions.get(number=number)
    except StrategyVersion.DoesNotExist:
        raise ValidationError({"version": f"strategy {strategy.name!r} has no version {number}"}) from None
    return strategy_update(strategy=strategy, user=user, spec=old.spec, note=f"Restored from v{number}", via=via)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key in value:
            out.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def spec_diff(a: Any, b: Any) -> list[dict[str, Any]]:
    """Side-by-side key diff of two specs: one row per key path, ``changed`` when the values differ."""
    left, right = _flatten(a), _flatten(b)
    rows = []
    for key in sorted(set(left) | set(right)):
        lv, rv = left.get(key, _MISSING), right.get(key, _MISSING)
        rows.append(
            {
                "key": key or "(spec)",
                "a": "—" if lv is _MISSING else json.dumps(lv),
                "b": "—" if rv is _MISSING else json.dumps(rv),
                "changed": lv != rv,
            }
        )
    return rows


_MISSING = object()
MAX_IMPORT_BYTES = 64 * 1024


def spec_from_file(raw: bytes) -> tuple[dict | None, ValidationResult]:
    """Parse an uploaded spec file; a malformed file is a problem naming where, never an exception."""
    result = ValidationResult()
    if len(raw) > MAX_IMPORT_BYTES:
        result.add("file", f"is larger than {MAX_IMPORT_BYTES // 1024} KiB")
        return None, result
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        result.add("file", "is not UTF-8 text")
        return None, result
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        result.add("file", f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")
        return None, result
    if not isinstance(spec, dict):
        result.add("file", "must hold one JSON object: a strategy spec")
        return None, result
    # Floats stay floats: the validator refuses them where a decimal is expected (they are not exact).
    return spec, result


def strategy_import(*, raw: bytes, user, via: str | None = None) -> tuple[Strategy | None, ValidationResult]:
    """Create a strategy from an exported spec file: every problem is reported and nothing is created."""
    from strategies.services import strategy_create, strategy_name_check
    from strategies.translation import spec_validate
    from trading.models import Account

    spec, result = spec_from_file(raw)
    if spec is None:
        return None, result
    try:
        result = spec_validate(spec)
    except Exception as exc:
        result.add("", f"the engine could not check this spec: {type(exc).__name__}: {exc}")
    try:
        strategy_name_check(spec.get("name"))
    except ValidationError as exc:
        for message in exc.message_dict.get("name", []):
            result.add("name", message)
    if not result.ok:
        return None, result
    account = Account.objects.get(name=spec["account"])
    strategy = strategy_create(
        name=spec["name"],
        strategy_type=spec["type"],
        spec=spec,
        account=account,
        user=user,
        note="Imported from a spec file",
        via=via,
    )
    strategy_validate(strategy=strategy, user=user, via=via)
    return strategy, result


def spec_export(version: StrategyVersion) -> bytes:
    return (json.dumps(version.spec, indent=2, sort_keys=False) + "\n").encode()


# ---------------------------------------------------------------------------
# Bulk operations
# ---------------------------------------------------------------------------

BULK_ACTIONS = ("validate", "deploy", "stop", "delete")


def strategies_bulk(*, action: str, strategy_ids: list[int], user, via: str | None = None) -> list[dict[str, Any]]:
    """Apply ``action`` to each strategy on its own: one result row per id (ok or why not)."""
    from strategies.services import strategy_delete

    if action not in BULK_ACTIONS:
        raise ValidationError({"action": f"must be one of {', '.join(BULK_ACTIONS)}"})
    if not strategy_ids:
        raise ValidationError({"strategies": "select at least one strategy"})
    rows = {s.pk: s for s in Strategy.objects.filter(pk__in=strategy_ids).select_related("current_version")}
    results = []
    for pk in strategy_ids:
        strategy = rows.get(pk)
        if strategy is None:
            results.append({"id": pk, "name": f"#{pk}", "ok": False, "message": "no such strategy"})
            continue
        try:
            if action == "validate":
                outcome = strategy_validate(strategy=strategy, user=user, via=via)
                ok = outcome.ok
                message = "passed" if ok else "; ".join(outcome.messages())
            elif action == "deploy":
                deployment = strategy_deploy(strategy=strategy, user=user, via=via)
                ok, message = True, f"v{deployment.version.number} deployed to simulation"
            elif action == "stop":
                strategy_stop(strategy=strategy, user=user, via=via)
                ok, message = True, "stopped"
            else:
                strategy_delete(strategy=strategy, user=user, via=via)
                ok, message = True, "deleted"
        except ValidationError as exc:
            ok = False
            message = "; ".join(
                f"{field}: {m}" if field != "__all__" else m
                for field, messages in (
                    exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
                ).items()
                for m in messages
            )
        except ConflictError as exc:
            ok, message = False, exc.message
        strategy.refresh_from_db()
        results.append({"id": pk, "name": strategy.name, "ok": ok, "message": message, "status": strategy.status})
    return results


# ---------------------------------------------------------------------------
# The node's view
# ---------------------------------------------------------------------------


def node_strategy_states() -> dict[str, dict[str, Any]]:
    """Order id tag → what the node reports for it (state, open orders/positions, last command, error)."""
    from monitoring.redis_client import redis_client
    from trading.node.status import configured_trader_id

    try:
        raw = redis_client().hgetall(NODE_STATES_KEY.format(trader_id=configured_trader_id()))
    except Exception:
        return {}
    states = {}
    for key, value in raw.items():
        try:
            states[key.decode() if isinstance(key, bytes) else key] = json.loads(value)
        except ValueError:
            continue
    return states
