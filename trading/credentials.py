"""Venue credentials at rest: Fernet-encrypted JSON on ``Account.credentials_encrypted``.

The key is ``settings.CREDENTIALS_KEY``. Several comma-separated keys may be
given to rotate: the first encrypts, all of them decrypt (``MultiFernet``), so
a new key can be put in front and old tokens re-encrypted at leisure.

Plain-text credentials never leave this module except to the node builder that
asks for them with ``account_credentials``; the API and the admin only learn
whether an account has credentials, and the audit log only that they changed.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction

from monitoring.audit import audit_record
from trading.models import Account

# Keys a venue adapter may read; anything else is a typo that would silently be ignored.
ALLOWED_KEYS = frozenset({"api_key", "api_secret", "passphrase", "username", "password", "account_id", "host", "port"})
MAX_VALUE_LENGTH = 4096


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in str(settings.CREDENTIALS_KEY).split(",") if k.strip()]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "CREDENTIALS_KEY must be one or more comma-separated Fernet keys (32 url-safe base64-encoded bytes)."
        ) from exc


def credentials_validate(credentials: Any) -> dict[str, str]:
    """Return the cleaned mapping or raise ``ValidationError`` on the ``credentials`` field."""
    if not isinstance(credentials, dict):
        raise ValidationError(
            {"credentials": 'Credentials must be a JSON object such as {"api_key": ..., "api_secret": ...}.'}
        )
    unknown = sorted(set(credentials) - ALLOWED_KEYS)
    if unknown:
        allowed = ", ".join(sorted(ALLOWED_KEYS))
        raise ValidationError({"credentials": f"Unknown credential keys: {', '.join(unknown)}. Allowed: {allowed}."})
    cleaned: dict[str, str] = {}
    for key, value in credentials.items():
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError({"credentials": f"Credential {key!r} must be a string."})
        text = str(value)
        if not text.strip():
            raise ValidationError({"credentials": f"Credential {key!r} is empty."})
        if len(text) > MAX_VALUE_LENGTH:
            raise ValidationError({"credentials": f"Credential {key!r} is longer than {MAX_VALUE_LENGTH} characters."})
        cleaned[key] = text
    return cleaned


def credentials_encrypt(credentials: dict[str, str]) -> str:
    payload = json.dumps(credentials, sort_keys=True, separators=(",", ":")).encode()
    return _fernet().encrypt(payload).decode()


def credentials_decrypt(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        # Wrong or rotated-away key: say so instead of handing an adapter garbage.
        raise ImproperlyConfigured(
            "Stored account credentials cannot be decrypted with CREDENTIALS_KEY (was the key changed?)."
        ) from exc


def account_credentials(account: Account) -> dict[str, str]:
    """The plain credentials of ``account`` (for the node's adapter configuration only)."""
    return credentials_decrypt(account.credentials_encrypted)


@transaction.atomic
def account_credentials_set(*, account: Account, credentials: dict | None, user, via: str | None = None) -> Account:
    """Replace (or with ``None``/``{}`` clear) the account's credentials; audited without the secrets."""
    had = bool(account.credentials_encrypted)
    if credentials:
        cleaned = credentials_validate(credentials)
        account.credentials_encrypted = credentials_encrypt(cleaned)
        change = ["set" if had else "unset", f"set ({', '.join(sorted(cleaned))})"]
    else:
        account.credentials_encrypted = ""
        change = ["set" if had else "unset", "unset"]
    account.save(update_fields=["credentials_encrypted"])
    audit_record(actor=user, action="account.credentials", obj=account, changes={"credentials": change}, via=via)
    return account
