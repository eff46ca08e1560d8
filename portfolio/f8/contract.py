"""The F8 wire format (docs/f8-api.md): what we send and the checks on what F8 answers.

Every answer is validated whole before anything is applied: a missing field,
a wrong type or a number sent as a JSON float (which cannot carry an exact
Decimal) rejects the entire answer with the path of each problem, so a garbage
response is never half-applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

PUSH_STATUSES = ("accepted", "duplicate", "rejected")
LIMIT_SCOPES = ("global", "account", "strategy", "instrument", "sector")
MAX_PROBLEMS = 20


class F8ProtocolError(Exception):
    """F8 answered something that does not follow the contract."""

    def __init__(self, endpoint: str, problems: list[str]):
        self.endpoint = endpoint
        self.problems = problems[:MAX_PROBLEMS]
        super().__init__(f"F8 {endpoint}: invalid response: " + "; ".join(self.problems))


class _Checker:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def obj(self, value: Any, path: str) -> dict | None:
        if not isinstance(value, dict):
            self.fail(path, f"expected an object, got {_type(value)}")
            return None
        return value

    def field(self, parent: dict, name: str, path: str) -> Any:
        if name not in parent:
            self.fail(f"{path}.{name}", "missing")
            return None
        return parent[name]

    def string(self, parent: dict, name: str, path: str, *, blank: bool = False, nullable: bool = False) -> str | None:
        value = self.field(parent, name, path)
        if value is None and nullable and name in parent:
            return None
        if not isinstance(value, str):
            if name in parent:
                self.fail(f"{path}.{name}", f"expected a string, got {_type(value)}")
            return None
        if not blank and not value.strip():
            self.fail(f"{path}.{name}", "must not be empty")
            return None
        return value

    def decimal(self, parent: dict, name: str, path: str) -> Decimal | None:
        value = self.field(parent, name, path)
        if name not in parent:
            return None
        if not isinstance(value, str):
            self.fail(f"{path}.{name}", f"expected a decimal string, got {_type(value)}")
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            self.fail(f"{path}.{name}", f"{value!r} is not a decimal number")
            return None
        if not number.is_finite():
            self.fail(f"{path}.{name}", f"{value!r} is not finite")
            return None
        return number

    def timestamp(self, parent: dict, name: str, path: str) -> datetime | None:
        value = self.string(parent, name, path)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{path}.{name}", f"{value!r} is not an ISO 8601 timestamp")
            return None
        if parsed.tzinfo is None:
            self.fail(f"{path}.{name}", "timestamp needs a UTC offset")
            return None
        return parsed

    def array(self, parent: dict, name: str, path: str) -> list:
        value = self.field(parent, name, path)
        if name in parent and not isinstance(value, list):
            self.fail(f"{path}.{name}", f"expected an array, got {_type(value)}")
            return []
        return value or []

    def done(self) -> None:
        if self.problems:
            raise F8ProtocolError(self.endpoint, self.problems)


def _type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


# -- answers to pushes -----------------------------------------------------------


@dataclass(frozen=True)
class PushResult:
    idempotency_key: str
    status: str  # accepted | duplicate | rejected
    error: str = ""


def parse_push_response(endpoint: str, data: Any, sent_keys: list[str]) -> dict[str, PushResult]:
    """One result per item sent, each key exactly once, no strangers."""
    check = _Checker(endpoint)
    body = check.obj(data, "$")
    results: dict[str, PushResult] = {}
    if body is not None:
        for i, row in enumerate(check.array(body, "results", "$")):
            path = f"$.results[{i}]"
            row = check.obj(row, path)
            if row is None:
                continue
            key = check.string(row, "idempotency_key", path)
            status = check.string(row, "status", path)
            error = row.get("error", "")
            if status is not None and status not in PUSH_STATUSES:
                check.fail(f"{path}.status", f"{status!r} is not one of {', '.join(PUSH_STATUSES)}")
                status = None
            if not isinstance(error, str):
                check.fail(f"{path}.error", f"expected a string, got {_type(error)}")
            if key is None or status is None:
                continue
            if key in results:
                check.fail(f"{path}.idempotency_key", f"{key!r} answered twice")
            elif key not in sent_keys:
                check.fail(f"{path}.idempotency_key", f"{key!r} was not sent")
            else:
                results[key] = PushResult(key, status, error if isinstance(error, str) else "")
        missing = [k for k in sent_keys if k not in results]
        if missing and not check.problems:
            check.fail("$.results", f"no result for {len(missing)} item(s), e.g. {missing[0]!r}")
    check.done()
    return results


# -- pulled positions ------------------------------------------------------------


@dataclass(frozen=True)
class F8Position:
    account: str
    instrument_id: str
    quantity: Decimal


@dataclass(frozen=True)
class F8PositionsView:
    as_of: datetime
    positions: list[F8Position]


def parse_positions(data: Any, *, portfolio_id: str) -> F8PositionsView:
    endpoint = "GET positions"
    check = _Checker(endpoint)
    body = check.obj(data, "$")
    if body is None:
        check.done()
    pid = check.string(body, "portfolio_id", "$")
    if pid is not None and pid != portfolio_id:
        check.fail("$.portfolio_id", f"{pid!r} is not our portfolio {portfolio_id!r}")
    as_of = check.timestamp(body, "as_of", "$")
    positions: list[F8Position] = []
    seen: set[tuple[str, str]] = set()
    for i, row in enumerate(check.array(body, "positions", "$")):
        path = f"$.positions[{i}]"
        row = check.obj(row, path)
        if row is None:
            continue
        account = check.string(row, "account", path)
        instrument_id = check.string(row, "instrument_id", path)
        quantity = check.decimal(row, "quantity", path)
        if account is None or instrument_id is None or quantity is None:
            continue
        if (account, instrument_id) in seen:
            check.fail(path, f"{account} {instrument_id} listed twice")
            continue
        seen.add((account, instrument_id))
        positions.append(F8Position(account, instrument_id, quantity))
    check.done()
    return F8PositionsView(as_of=as_of, positions=positions)  # type: ignore[arg-type]


# -- pulled limits ---------------------------------------------------------------


@dataclass(frozen=True)
class F8LimitRow:
    f8_id: str
    scope: str
    target: str
    kind: str
    value: Decimal
    currency: str


def parse_limits(data: Any, *, portfolio_id: str, kinds: list[str]) -> list[F8LimitRow]:
    endpoint = "GET limits"
    check = _Checker(endpoint)
    body = check.obj(data, "$")
    if body is None:
        check.done()
    pid = check.string(body, "portfolio_id", "$")
    if pid is not None and pid != portfolio_id:
        check.fail("$.portfolio_id", f"{pid!r} is not our portfolio {portfolio_id!r}")
    check.timestamp(body, "as_of", "$")
    rows: list[F8LimitRow] = []
    ids: set[str] = set()
    for i, row in enumerate(check.array(body, "limits", "$")):
        path = f"$.limits[{i}]"
        row = check.obj(row, path)
        if row is None:
            continue
        f8_id = check.string(row, "id", path)
        scope = check.string(row, "scope", path)
        kind = check.string(row, "kind", path)
        value = check.decimal(row, "value", path)
        target = check.string(row, "target", path, nullable=True)
        currency = row.get("currency", "")
        if currency is None:
            currency = ""
        if not isinstance(currency, str):
            check.fail(f"{path}.currency", f"expected a string, got {_type(currency)}")
            continue
        if scope is not None and scope not in LIMIT_SCOPES:
            check.fail(f"{path}.scope", f"{scope!r} is not one of {', '.join(LIMIT_SCOPES)}")
            continue
        if kind is not None and kind not in kinds:
            check.fail(f"{path}.kind", f"{kind!r} is not a known limit kind")
            continue
        if scope == "global" and target:
            check.fail(f"{path}.target", "a global limit has no target")
            continue
        if scope not in (None, "global") and not target and "target" in row:
            check.fail(f"{path}.target", f"a {scope} limit needs a target")
            continue
        if value is not None and value <= 0:
            check.fail(f"{path}.value", "must be positive")
            continue
        if None in (f8_id, scope, kind, value):
            continue
        if f8_id in ids:
            check.fail(f"{path}.id", f"{f8_id!r} listed twice")
            continue
        ids.add(f8_id)
        rows.append(F8LimitRow(f8_id, scope, target or "", kind, value, currency))  # type: ignore[arg-type]
    check.done()
    return rows
