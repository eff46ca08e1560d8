"""Writes of the strategies app: create, edit (→ a new immutable version), delete.

Every edit creates a new ``StrategyVersion`` and points ``current_version`` at
it; earlier versions are never touched, so a backtest, a deployment or an order
can always name the exact spec it ran. Every write is audited with from→to and
announced on the ``strategies`` live topic after commit.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from config.api import ConflictError
from monitoring.audit import audit_record
from monitoring.broadcast import publish_on_commit
from strategies.models import Strategy, StrategyType, StrategyVersion
from trading.models import Account, Instrument

# Deployed on the node: deleting (or retyping) one would pull it from under the engine.
RUNNING_STATUSES = frozenset({Strategy.Status.SIMULATION, Strategy.Status.LIVE, Strategy.Status.PAUSED})
MAX_SPEC_BYTES = 64 * 1024


def strategy_spec_check(spec: Any) -> dict:
    """The shape every spec must have; the per-type rules come with the strategy library.

    Raises ``ValidationError`` under ``spec``.
    """
    if not isinstance(spec, dict):
        raise ValidationError({"spec": "The spec must be a JSON object."})
    try:
        size = len(json.dumps(spec))
    except (TypeError, ValueError):
        raise ValidationError({"spec": "The spec must contain only JSON values."})
    if size > MAX_SPEC_BYTES:
        raise ValidationError({"spec": f"The spec is larger than {MAX_SPEC_BYTES // 1024} KiB."})
    problems = []
    parameters = spec.get("parameters", {})
    if not isinstance(parameters, dict):
        problems.append("spec.parameters must be a JSON object.")
    instruments = spec.get("instruments", [])
    if not isinstance(instruments, list) or not all(isinstance(i, str) for i in instruments):
        problems.append('spec.instruments must be a list of instrument ids such as "EUR/USD.SIM".')
    else:
        known = set(Instrument.objects.filter(instrument_id__in=instruments).values_list("instrument_id", flat=True))
        unknown = [i for i in instruments if i not in known]
        if unknown:
            problems.append(f"spec.instruments names unknown instruments: {', '.join(unknown)}.")
    if problems:
        raise ValidationError({"spec": problems})
    return spec


def strategy_name_check(name: Any, *, exclude_pk: int | None = None) -> str:
    name = str(name or "").strip()
    if not name:
        raise ValidationError({"name": "A strategy needs a name."})
    if len(name) > Strategy._meta.get_field("name").max_length:
        raise ValidationError({"name": "Name is too long (128 characters at most)."})
    taken = Strategy.objects.exclude(status=Strategy.Status.DELETED).filter(name=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"name": f"A strategy named {name!r} already exists."})
    return name


def _account_check(account: Any) -> Account | None:
    if account is not None and not isinstance(account, Account):
        raise ValidationError({"account": "Unknown account."})
    return account


def _payload(strategy: Strategy) -> dict[str, Any]:
    return {
        "id": strategy.pk,
        "name": strategy.name,
        "status": strategy.status,
        "version": strategy.current_version.number if strategy.current_version else None,
    }


def _is_user(user) -> bool:
    return bool(getattr(user, "is_authenticated", False))


@transaction.atomic
def strategy_create(
    *,
    name: str,
    strategy_type: str,
    spec: dict,
    user,
    account: Account | None = None,
    note: str = "",
    via: str | None = None,
) -> Strategy:
    errors: dict[str, Any] = {}
    for check in (
        lambda: strategy_name_check(name),
        lambda: _type_check(strategy_type),
        lambda: strategy_spec_check(spec),
        lambda: _account_check(account),
    ):
        try:
            check()
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    strategy = Strategy.objects.create(
        name=str(name).strip(),
        strategy_type=strategy_type,
        account=account,
        created_by=user if _is_user(user) else None,
    )
    version = StrategyVersion.objects.create(
        strategy=strategy, number=1, spec=spec, note=note or "Created", created_by=strategy.created_by
    )
    strategy.current_version = version
    strategy.save(update_fields=["current_version", "updated_at"])
    audit_record(
        actor=user,
        action="strategy.create",
        obj=strategy,
        changes={
            "name": [None, strategy.name],
            "strategy_type": [None, strategy_type],
            "account": [None, str(account) if account else None],
            "version": [None, 1],
            "spec_hash": [None, version.spec_hash],
        },
        via=via,
    )
    publish_on_commit("strategies", "strategy_created", _payload(strategy))
    return strategy


def _type_check(strategy_type: Any) -> str:
    if strategy_type not in StrategyType.values:
        expected = ", ".join(StrategyType.values)
        raise ValidationError({"strategy_type": f"Unknown strategy type {strategy_type!r}; expected {expected}."})
    return strategy_type


_UNSET: Any = object()


@transaction.atomic
def strategy_update(
    *,
    strategy: Strategy,
    user,
    name: str = _UNSET,
    account: Account | None = _UNSET,
    spec: dict = _UNSET,
    note: str = "",
    via: str | None = None,
) -> Strategy:
    """Edit a strategy. Any change creates version n+1 (with the new or the carried-over spec).

    Locks the strategy row so two concurrent edits get consecutive version numbers
    instead of a unique-constraint error. A no-op edit creates nothing.
    """
    current = (
        Strategy.objects.select_for_update(of=("self",))
        .select_related("current_version", "account")
        .get(pk=strategy.pk)
    )
    if current.status == Strategy.Status.DELETED:
        raise ConflictError(f"Strategy {current.name!r} is deleted; it cannot be edited.", code="strategy_deleted")
    errors: dict[str, Any] = {}
    old_spec = current.current_version.spec if current.current_version else {}
    new_name, new_account, new_spec = current.name, current.account, old_spec
    if name is not _UNSET:
        try:
            new_name = strategy_name_check(name, exclude_pk=current.pk)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if account is not _UNSET:
        try:
            new_account = _account_check(account)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if spec is not _UNSET:
        try:
            new_spec = strategy_spec_check(spec)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)

    changes: dict[str, list[Any]] = {}
    if new_name != current.name:
        changes["name"] = [current.name, new_name]
    if new_account != current.account:
        changes["account"] = [
            str(current.account) if current.account else None,
            str(new_account) if new_account else None,
        ]
    spec_changed = new_spec != old_spec
    if not changes and not spec_changed:
        return current

    previous = current.current_version
    number = (current.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = StrategyVersion.objects.create(
        strategy=current,
        number=number,
        spec=new_spec,
        note=note or ", ".join(sorted([*changes, *(["spec"] if spec_changed else [])])) + " changed",
        created_by=user if _is_user(user) else None,
    )
    changes["version"] = [previous.number if previous else None, number]
    if spec_changed:
        changes["spec_hash"] = [previous.spec_hash if previous else None, version.spec_hash]
    current.name = new_name
    current.account = new_account
    current.current_version = version
    current.save(update_fields=["name", "account", "current_version", "updated_at"])
    audit_record(actor=user, action="strategy.update", obj=current, changes=changes, message=version.note, via=via)
    publish_on_commit("strategies", "strategy_updated", _payload(current))
    return current


@transaction.atomic
def strategy_delete(*, strategy: Strategy, user, via: str | None = None) -> Strategy:
    """Retire a strategy that is not running. Its versions, orders and positions stay as history.

    Raises ``ConflictError`` (409) while it is deployed on the node.
    """
    current = Strategy.objects.select_for_update(of=("self",)).get(pk=strategy.pk)
    if current.status in RUNNING_STATUSES:
        raise ConflictError(
            f"Strategy {current.name!r} is {current.get_status_display().lower()}; stop it before deleting it.",
            code="strategy_running",
            extra={"status": current.status},
        )
    if current.status == Strategy.Status.DELETED:
        return current
    before = current.status
    current.status = Strategy.Status.DELETED
    current.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=user, action="strategy.delete", obj=current, changes={"status": [before, current.status]}, via=via
    )
    publish_on_commit("strategies", "strategy_deleted", _payload(current))
    return current
