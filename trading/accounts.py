"""Writes on venue accounts (Admin): create, edit, credentials.

Status (connected/disconnected) belongs to the node, which reports it; a person
may only disable an account or bring a disabled one back.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from monitoring.audit import audit_record, field_changes, snapshot
from monitoring.broadcast import publish_on_commit
from trading.credentials import account_credentials_set
from trading.models import Account

EDITABLE_FIELDS = (
    "name",
    "venue",
    "account_type",
    "oms_type",
    "base_currency",
    "starting_balance",
    "leverage",
    "reconciliation_policy",
)


def _check(account: Account) -> None:
    """Field validators, choices, uniqueness and the table's check constraints, before the write."""
    account.base_currency = (account.base_currency or "").strip().upper()
    account.full_clean(exclude=["status_changed_at", "credentials_encrypted"])


@transaction.atomic
def account_create(*, user, credentials: dict | None = None, via: str | None = None, **fields: Any) -> Account:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"account_create() got unexpected fields {sorted(unknown)}")
    account = Account(**fields)
    _check(account)
    account.save()
    audit_record(
        actor=user,
        action="account.create",
        obj=account,
        changes=field_changes({}, snapshot(account, EDITABLE_FIELDS)),
        via=via,
    )
    if credentials:
        account_credentials_set(account=account, credentials=credentials, user=user, via=via)
    publish_on_commit("node", "account_changed", {"id": account.pk, "name": account.name})
    return account


@transaction.atomic
def account_update(
    *,
    account: Account,
    user,
    credentials: dict | None = None,
    disabled: bool | None = None,
    via: str | None = None,
    **changes: Any,
) -> Account:
    """Apply ``changes``; ``credentials`` replaces the stored ones (``{}`` clears them);
    ``disabled`` takes the account out of (or back into) trading."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"account_update() got unexpected fields {sorted(unknown)}")
    current = Account.objects.select_for_update(of=("self",)).get(pk=account.pk)
    before = snapshot(current, (*EDITABLE_FIELDS, "status"))
    for name, value in changes.items():
        setattr(current, name, value)
    if disabled is not None:
        target = Account.Status.DISABLED if disabled else Account.Status.DISCONNECTED
        if target != current.status and (disabled or current.status == Account.Status.DISABLED):
            current.status = target
            current.status_reason = "disabled by an administrator" if disabled else ""
            current.status_changed_at = timezone.now()
    _check(current)
    diff = field_changes(before, snapshot(current, (*EDITABLE_FIELDS, "status")))
    if diff:
        current.save()
        audit_record(actor=user, action="account.update", obj=current, changes=diff, via=via)
    if credentials is not None:
        account_credentials_set(account=current, credentials=credentials, user=user, via=via)
    if diff or credentials is not None:
        publish_on_commit("node", "account_changed", {"id": current.pk, "name": current.name})
    return current
