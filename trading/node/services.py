"""Writes of the node runtime: start/stop/restart requests, account connection status."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from monitoring.audit import audit_record
from monitoring.broadcast import publish_on_commit
from trading.models import Account
from trading.node.state import control_request, desired_state
from trading.node.status import configured_trader_id, node_status


class NodeActionError(ValueError):
    pass


def _node_action(*, action: str, desired: str | None, user, trader_id: str | None) -> dict:
    trader_id = trader_id or configured_trader_id()
    before = {"desired": desired_state(trader_id), "state": node_status(trader_id).as_dict()["state"]}
    with transaction.atomic():
        audit_record(
            actor=user,
            action=f"node.{action}",
            changes={"desired": [before["desired"], desired or before["desired"]]},
            message=f"{action} requested for node {trader_id} (was {before['state']})",
        )
        # The request reaches the supervisor only if the audit row commits.
        transaction.on_commit(
            lambda: control_request(trader_id, action, desired=desired, by=getattr(user, "username", ""))
        )
    if action in ("start", "restart"):
        from trading.tasks import run_node

        # A supervisor that is already running ignores this (it holds the lock)
        # and acts on the control request instead.
        transaction.on_commit(lambda: run_node.apply_async(kwargs={"trader_id": trader_id}, expires=30))
    return {"trader_id": trader_id, "action": action, "previous": before}


def node_start(*, user, trader_id: str | None = None) -> dict:
    return _node_action(action="start", desired="running", user=user, trader_id=trader_id)


def node_stop(*, user, trader_id: str | None = None) -> dict:
    return _node_action(action="stop", desired="stopped", user=user, trader_id=trader_id)


def node_restart(*, user, trader_id: str | None = None) -> dict:
    return _node_action(action="restart", desired="running", user=user, trader_id=trader_id)


def account_connection_set(*, account: Account, connected: bool, reason: str = "") -> bool:
    """Record what the node found when it brought the account's venue up. Returns True if it changed."""
    status = Account.Status.CONNECTED if connected else Account.Status.DISCONNECTED
    with transaction.atomic():
        locked = Account.objects.select_for_update(of=("self",)).get(pk=account.pk)
        if locked.status == Account.Status.DISABLED:
            return False
        if locked.status == status and locked.status_reason == reason:
            return False
        before = (locked.status, locked.status_reason)
        locked.status, locked.status_reason, locked.status_changed_at = status, reason[:255], timezone.now()
        locked.save(update_fields=["status", "status_reason", "status_changed_at"])
        audit_record(
            actor=None,
            action="account.connection",
            obj=locked,
            changes={"status": [before[0], status], "status_reason": [before[1], locked.status_reason]},
            via="system",
        )
        publish_on_commit("node", "account", {"account": locked.name, "status": status, "reason": locked.status_reason})
    return True
