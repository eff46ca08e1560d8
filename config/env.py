"""Typed readers for environment variables.

Every reader raises ``ImproperlyConfigured`` naming the variable and what it
expects, so a bad ``config/.env`` stops start-up with a message a person can
act on instead of a stack trace deep inside a library.
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_MISSING = object()


def _raw(name: str, default: object) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        if default is _MISSING:
            raise ImproperlyConfigured(f"{name} is not set: it is required (see config/.env.example).")
        return None if default is None else str(default)
    return value.strip()


def env_str(name: str, default: object = _MISSING) -> str:
    value = _raw(name, default)
    return value or ""


def env_bool(name: str, default: object = _MISSING) -> bool:
    value = _raw(name, default)
    lowered = (value or "").lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: expected true or false.")


def env_int(name: str, default: object = _MISSING, *, minimum: int | None = None) -> int:
    value = _raw(name, default)
    try:
        number = int(value or "")
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer: expected a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is too small: expected an integer >= {minimum}.")
    return number


def env_decimal(name: str, default: object = _MISSING, *, positive: bool = True) -> Decimal:
    value = _raw(name, default)
    try:
        number = Decimal((value or "").replace("_", ""))
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number: expected a decimal amount.") from None
    if not number.is_finite() or (positive and number <= 0):
        raise ImproperlyConfigured(f"{name}={value!r} is out of range: expected a positive finite amount.")
    return number


def env_url(name: str, default: object = _MISSING, *, schemes: tuple[str, ...]) -> str:
    value = _raw(name, default)
    if not value:
        return ""
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not (parsed.hostname or parsed.path):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a valid URL: "
            f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}."
        )
    return value


def env_choice(name: str, default: object = _MISSING, *, choices: tuple[str, ...]) -> str:
    value = (_raw(name, default) or "").upper()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not allowed: expected one of {', '.join(choices)}.")
    return value


_RATE_PERIODS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


def env_rate(name: str, default: object = _MISSING) -> str:
    """A request rate in DRF's notation: ``3000/min`` (periods s, m, h, d or a word starting with one)."""
    value = _raw(name, default) or ""
    count, slash, period = value.partition("/")
    period = period.strip().lower()
    valid = (
        slash
        and count.strip().isdigit()
        and int(count) >= 1
        and period[:1] in _RATE_PERIODS
        and period != "ms"
        and _RATE_PERIODS[period[:1]].startswith(period.rstrip("s") or "s")
    )
    if not valid:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate: expected requests per period, such as 3000/min (s, min, hour or day)."
        )
    return f"{int(count)}/{period}"


def env_path(name: str, default: object = _MISSING, *, base: Path) -> Path:
    value = _raw(name, default) or ""
    path = Path(value)
    return path if path.is_absolute() else (base / path)
