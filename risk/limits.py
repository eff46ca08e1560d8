"""Risk limits: the one validation and the one write path for every editor.

The API, the Django admin and the Risk page all call ``risk_limit_create``,
``risk_limit_update``, ``risk_limit_set_enabled`` and ``risk_limit_delete``, so
a limit is checked the same way whoever edits it. Each write bumps the limit's
``version`` (decisions store the version they applied, so a verdict can be
replayed), writes an audit row with from→to in the same transaction, and
publishes the change on the ``risk`` live topic after commit so pages and the
gate's snapshot refresh.

``risk_limit_check`` raises ``django.core.exceptions.ValidationError`` keyed by
field name; the API turns that into a 400 and the admin form shows it on the
field.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from monitoring.audit import audit_record, field_changes, snapshot
from monitoring.broadcast import publish_on_commit
from risk.models import SCOPE_FIELDS, RiskLimit, Scope
from trading.models import PRICE

Kind = RiskLimit.Kind

# Percent limits: a share of something, so 0 < value <= 100.
PERCENT_KINDS = frozenset({Kind.PRICE_BAND_PCT, Kind.MAX_DRAWDOWN_PCT, Kind.SECTOR_GROSS_PCT, Kind.SECTOR_NET_PCT})
# Counts: whole numbers.
COUNT_KINDS = frozenset({Kind.ORDER_RATE, Kind.MAX_OPEN_ORDERS})
# Limits measured in money, where ``currency`` means something.
MONEY_KINDS = frozenset(
    {
        Kind.MAX_ORDER_NOTIONAL,
        Kind.MAX_POSITION_NOTIONAL,
        Kind.MIN_FREE_BALANCE,
        Kind.DAILY_LOSS,
        Kind.CORRELATION_EXPOSURE,
        Kind.RISK_BUDGET,
    }
)
# Rate limits count over a window and cannot be judged without one.
WINDOW_KINDS = frozenset({Kind.ORDER_RATE})
# Scopes at which a kind can be measured at all.
KIND_SCOPES: dict[str, frozenset[str]] = {
    Kind.SECTOR_GROSS_PCT: frozenset({Scope.GLOBAL, Scope.ACCOUNT, Scope.STRATEGY, Scope.SECTOR}),
    Kind.SECTOR_NET_PCT: frozenset({Scope.GLOBAL, Scope.ACCOUNT, Scope.STRATEGY, Scope.SECTOR}),
    Kind.RISK_BUDGET: frozenset({Scope.STRATEGY}),
    Kind.MIN_FREE_BALANCE: frozenset({Scope.GLOBAL, Scope.ACCOUNT}),
    Kind.MAX_LEVERAGE: frozenset({Scope.GLOBAL, Scope.ACCOUNT, Scope.STRATEGY}),
}
MAX_WINDOW_SECONDS = 7 * 24 * 3600
MAX_INTEGER_DIGITS = PRICE["max_digits"] - PRICE["decimal_places"]
QUANTUM = Decimal(1).scaleb(-PRICE["decimal_places"])

# Fields a caller may set; everything else (version, updated_by, ...) is ours.
EDITABLE_FIELDS = (
    "name",
    "scope",
    "account",
    "strategy",
    "instrument",
    "sector",
    "kind",
    "value",
    "currency",
    "window_seconds",
    "params",
    "enabled",
)
AUDITED_FIELDS = (*EDITABLE_FIELDS, "version")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float | bool):
        # A float has already lost the exact value the person typed.
        raise ValidationError({"value": "Send the value as a decimal string, not a binary float."})
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({"value": "Enter a number."})


def risk_limit_check(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate a complete set of limit fields; return them cleaned (Decimal value, scope references).

    Raises ``ValidationError`` with every problem found, each under its field.
    """
    errors: dict[str, list[str]] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    cleaned = dict(fields)
    name = str(fields.get("name") or "").strip()
    if not name:
        fail("name", "A limit needs a name.")
    elif len(name) > RiskLimit._meta.get_field("name").max_length:
        fail("name", "Name is too long (128 characters at most).")
    cleaned["name"] = name

    kind = fields.get("kind")
    if kind not in Kind.values:
        fail("kind", f"Unknown limit kind {kind!r}; expected one of {', '.join(Kind.values)}.")
    scope = fields.get("scope") or Scope.GLOBAL
    cleaned["scope"] = scope
    if scope not in Scope.values:
        fail("scope", f"Unknown scope {scope!r}; expected one of {', '.join(Scope.values)}.")

    # Value: a finite, positive decimal that fits the column, then what the kind allows.
    value = None
    if fields.get("value") in (None, ""):
        fail("value", "A limit needs a value.")
    else:
        try:
            value = _decimal(fields.get("value"))
        except ValidationError as exc:
            errors.setdefault("value", []).extend(exc.message_dict["value"])
    if value is not None:
        if not value.is_finite():
            fail("value", "Value must be a finite number.")
        elif value <= 0:
            fail("value", "Value must be greater than zero.")
        elif value.adjusted() >= MAX_INTEGER_DIGITS:
            fail("value", f"Value is too large (at most {MAX_INTEGER_DIGITS} digits before the decimal point).")
        elif value != value.quantize(QUANTUM):
            fail("value", f"Value has more than {PRICE['decimal_places']} decimal places.")
        elif kind in PERCENT_KINDS and value > 100:
            fail("value", "A percentage limit cannot exceed 100.")
        elif kind in COUNT_KINDS and value != value.to_integral_value():
            fail("value", "This limit counts orders: use a whole number.")
        else:
            cleaned["value"] = value

    window = fields.get("window_seconds")
    if window in ("", None):
        window = None
    if kind in WINDOW_KINDS:
        if window is None:
            fail("window_seconds", "A rate limit needs window_seconds (the period the orders are counted over).")
        else:
            try:
                window = int(window)
            except (TypeError, ValueError):
                fail("window_seconds", "window_seconds must be a whole number of seconds.")
            else:
                if not 1 <= window <= MAX_WINDOW_SECONDS:
                    fail("window_seconds", f"window_seconds must be between 1 and {MAX_WINDOW_SECONDS}.")
    elif window is not None and kind in Kind.values:
        fail("window_seconds", "Only rate limits take window_seconds; leave it empty.")
    cleaned["window_seconds"] = window

    currency = str(fields.get("currency") or "").strip().upper()
    if currency and kind in Kind.values and kind not in MONEY_KINDS:
        fail("currency", "Only money limits take a currency; leave it empty.")
    elif currency and not (3 <= len(currency) <= 8 and currency.isalnum()):
        fail("currency", "Currency must be a code such as USD or USDT.")
    cleaned["currency"] = currency

    params = fields.get("params")
    if params in (None, ""):
        params = {}
    if not isinstance(params, dict):
        fail("params", "params must be a JSON object.")
    else:
        for message in _params_problems(kind, params):
            fail("params", message)
    cleaned["params"] = params

    # Scope: exactly the reference the scope names, no other (the database says so too).
    if scope in Scope.values:
        wanted = SCOPE_FIELDS.get(scope)
        for other in SCOPE_FIELDS.values():
            if other == wanted:
                if fields.get(other) is None:
                    fail(other, f"A {scope}-scoped limit needs {other}.")
            elif fields.get(other) is not None:
                fail(other, f"A {scope}-scoped limit cannot name {other}.")
            cleaned[other] = fields.get(other)
        allowed = KIND_SCOPES.get(kind)
        if allowed is not None and scope not in allowed:
            fail("scope", f"A {kind} limit cannot be {scope}-scoped; use one of {', '.join(sorted(allowed))}.")

    cleaned["enabled"] = bool(fields.get("enabled", True))
    if errors:
        raise ValidationError(errors)
    return cleaned


def _is_id_list(value: Any, *, at_least: int) -> bool:
    return isinstance(value, list) and len(value) >= at_least and all(isinstance(i, str) and i for i in value)


def _params_problems(kind: Any, params: dict[str, Any]) -> list[str]:
    """What the gate would otherwise have to refuse every order over (it fails closed on a malformed group)."""
    problems = []
    if kind == Kind.CORRELATION_EXPOSURE:
        threshold = params.get("threshold")
        if threshold is not None:
            try:
                if isinstance(threshold, bool):
                    raise ValueError
                rho = Decimal(str(threshold))
                if not (rho.is_finite() and 0 < rho <= 1):
                    raise ValueError
            except (ValueError, ArithmeticError):
                problems.append("params.threshold must be a correlation above 0 and at most 1, e.g. 0.8.")
        if "instruments" in params and not _is_id_list(params["instruments"], at_least=2):
            problems.append(
                'params.instruments must list at least two instrument ids, e.g. ["EUR/USD.SIM", "GBP/USD.SIM"].'
            )
    elif kind == Kind.INSTRUMENT_LIST:
        for name in ("allowed", "blocked"):
            if name in params and not _is_id_list(params[name], at_least=0):
                problems.append(f"params.{name} must be a list of instrument ids.")
    return problems


def _canonical(fields: dict[str, Any]) -> dict[str, Any]:
    """Fields as the audit compares them: 250000 and 250000.0000000000 are the same value."""
    value = fields.get("value")
    if isinstance(value, Decimal) and value.is_finite():
        fields = {**fields, "value": format(value.normalize(), "f")}
    return fields


def _payload(limit: RiskLimit) -> dict[str, Any]:
    return {
        "id": limit.pk,
        "name": limit.name,
        "kind": limit.kind,
        "scope": limit.scope,
        "scope_label": limit.scope_label,
        "value": format(limit.value.normalize(), "f"),
        "enabled": limit.enabled,
        "version": limit.version,
    }


def _publish(event: str, limit: RiskLimit) -> None:
    publish_on_commit("risk", event, _payload(limit))


@transaction.atomic
def risk_limit_create(*, user, via: str | None = None, **fields: Any) -> RiskLimit:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"risk_limit_create() got unexpected fields {sorted(unknown)}")
    cleaned = risk_limit_check(fields)
    limit = RiskLimit.objects.create(**cleaned, version=1, updated_by=user if _is_user(user) else None)
    audit_record(
        actor=user,
        action="risk_limit.create",
        obj=limit,
        changes=field_changes({}, _canonical(snapshot(limit, AUDITED_FIELDS))),
        via=via,
    )
    _publish("limit_created", limit)
    return limit


@transaction.atomic
def risk_limit_update(*, limit: RiskLimit, user, via: str | None = None, **changes: Any) -> RiskLimit:
    """Apply ``changes`` (a subset of the editable fields) to ``limit``.

    Locks the row, validates the merged result, bumps the version only when
    something actually changed. Returns the fresh row.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"risk_limit_update() got unexpected fields {sorted(unknown)}")
    current = RiskLimit.objects.select_for_update(of=("self",)).get(pk=limit.pk)
    before = snapshot(current, EDITABLE_FIELDS)
    merged = {**before, **changes}
    # Changing the scope clears the references the new scope does not use, so a
    # client moving a limit from account to global need not null the account too.
    if "scope" in changes:
        wanted = SCOPE_FIELDS.get(changes["scope"])
        for other in SCOPE_FIELDS.values():
            if other != wanted and other not in changes:
                merged[other] = None
    cleaned = risk_limit_check(merged)
    diff = field_changes(_canonical(before), _canonical({name: cleaned[name] for name in EDITABLE_FIELDS}))
    if not diff:
        return current
    for name in EDITABLE_FIELDS:
        setattr(current, name, cleaned[name])
    current.version = current.version + 1
    current.updated_by = user if _is_user(user) else None
    current.save()
    diff["version"] = [current.version - 1, current.version]
    audit_record(actor=user, action="risk_limit.update", obj=current, changes=diff, via=via)
    _publish("limit_updated", current)
    return current


def risk_limit_set_enabled(*, limit: RiskLimit, enabled: bool, user, via: str | None = None) -> RiskLimit:
    return risk_limit_update(limit=limit, user=user, via=via, enabled=enabled)


@transaction.atomic
def risk_limit_delete(*, limit: RiskLimit, user, via: str | None = None) -> None:
    """Delete a limit for good. Past decisions keep its id and version in their ledger rows."""
    current = RiskLimit.objects.select_for_update(of=("self",)).get(pk=limit.pk)
    payload = _payload(current)
    audit_record(
        actor=user,
        action="risk_limit.delete",
        obj=current,
        changes=field_changes(_canonical(snapshot(current, AUDITED_FIELDS)), dict.fromkeys(AUDITED_FIELDS)),
        via=via,
    )
    current.delete()
    publish_on_commit("risk", "limit_deleted", payload)


def _is_user(user) -> bool:
    return bool(getattr(user, "is_authenticated", False))
