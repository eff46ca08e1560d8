"""The audit trail: every change a person (or the system on their behalf) makes.

Views call ``audit_record`` inside the same transaction as the change, so an
audited change and its record commit or roll back together.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import models

from monitoring.models import AuditLog

_request_ctx: contextvars.ContextVar[dict | None] = contextvars.ContextVar("audit_request", default=None)


class AuditContextMiddleware:
    """Remembers the client address of the current request for audit rows."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        via = "api" if request.path.startswith("/api/") else "admin" if request.path.startswith("/admin/") else "ui"
        token = _request_ctx.set({"ip": request.META.get("REMOTE_ADDR"), "via": via})
        try:
            return self.get_response(request)
        finally:
            _request_ctx.reset(token)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{"field": [old, new]} for each field whose value differs."""
    return {
        name: [_plain(before.get(name)), _plain(value)]
        for name, value in after.items()
        if _plain(before.get(name)) != _plain(value)
    }


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in fields}


def audit_record(
    *,
    actor,
    action: str,
    obj: models.Model | None = None,
    changes: dict | None = None,
    message: str = "",
    via: str | None = None,
) -> AuditLog:
    ctx = _request_ctx.get() or {}
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditLog.objects.create(
        actor=user,
        actor_name=user.get_username() if user else "system",
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:255] if obj is not None else "",
        changes=changes or {},
        message=message,
        ip_address=ctx.get("ip"),
        via=via or ctx.get("via", "system"),
    )
