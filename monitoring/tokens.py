"""API tokens (rest_framework.authtoken): one per user, obtained with a password, rotated at will."""

from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token

from monitoring.audit import audit_record


@transaction.atomic
def api_token_obtain(*, user) -> Token:
    """The user's token, created (and audited) the first time."""
    token, created = Token.objects.get_or_create(user=user)
    if created:
        audit_record(actor=user, action="api_token.create", obj=user, message="API token created")
    return token


@transaction.atomic
def api_token_rotate(*, user) -> Token:
    """Replace the user's token: the old one stops working at once."""
    had = Token.objects.filter(user=user).delete()[0] > 0
    token = Token.objects.create(user=user)
    audit_record(
        actor=user,
        action="api_token.rotate" if had else "api_token.create",
        obj=user,
        message="API token rotated; the previous token no longer works" if had else "API token created",
    )
    return token


@transaction.atomic
def api_token_revoke(*, user) -> bool:
    revoked = Token.objects.filter(user=user).delete()[0] > 0
    if revoked:
        audit_record(actor=user, action="api_token.revoke", obj=user, message="API token revoked")
    return revoked
