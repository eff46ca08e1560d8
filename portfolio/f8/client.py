"""HTTP client of the F8 service: httpx with timeouts, retries with backoff, behind the breaker.

Error semantics (docs/f8-api.md): connection errors, timeouts, 408, 429 and 5xx
are transient and retried with exponential backoff and full jitter; 401, 403
and 404 mean our key or portfolio id is wrong — not retried, but they count
against the breaker so we stop knocking; other 4xx mean our request is wrong and
are not retried. A call that exhausts its retries counts as one failure of the
breaker; an open breaker refuses calls without touching the network.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from portfolio.f8.breaker import CircuitBreaker
from portfolio.f8.contract import F8ProtocolError

logger = logging.getLogger(__name__)


class F8Error(Exception):
    """F8 could not be used for this call."""


class F8Unavailable(F8Error):
    """Down, slow, failing or behind an open circuit: try again later."""


class F8CircuitOpen(F8Unavailable):
    pass


class F8RequestRefused(F8Error):
    """F8 refused the request itself (4xx): retrying the same request will not help."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(f"F8 refused the request ({status}): {message}")


@dataclass(frozen=True)
class F8Config:
    base_url: str
    api_key: str
    portfolio_id: str

    @classmethod
    def from_settings(cls) -> F8Config | None:
        """None when F8_API_URL is empty: the connector is switched off."""
        if not settings.F8_API_URL:
            return None
        return cls(settings.F8_API_URL.rstrip("/"), settings.F8_API_KEY, settings.F8_PORTFOLIO_ID)


class F8Client:
    def __init__(
        self,
        config: F8Config,
        *,
        breaker: CircuitBreaker | None = None,
        timeout: httpx.Timeout | float | None = None,
        max_attempts: int = 3,
        backoff_base: float = 0.25,
        backoff_cap: float = 4.0,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self.config = config
        self.breaker = breaker or CircuitBreaker()
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=f"{config.base_url}/v1/portfolios/{config.portfolio_id}",
            headers={"Authorization": f"Bearer {config.api_key}", "Accept": "application/json"},
            timeout=timeout if timeout is not None else httpx.Timeout(5.0, connect=2.0),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> F8Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- endpoints --------------------------------------------------------------
    def push(self, kind: str, items: list[dict]) -> Any:
        """POST a batch of trades or positions; returns the decoded body (validated by the caller)."""
        return self._call("POST", f"/{kind}s", json_body={"items": items})

    def pull(self, what: str) -> Any:
        return self._call("GET", f"/{what}")

    # -- the one request path -------------------------------------------------------
    def _call(self, method: str, path: str, *, json_body: dict | None = None) -> Any:
        if not self.breaker.allow():
            raise F8CircuitOpen("F8 circuit is open: not calling until the reset timeout has passed")
        last_error = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self._http.request(method, path, json=json_body)
            except httpx.TimeoutException as exc:
                last_error = f"timeout ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last_error = f"connection failed ({type(exc).__name__}: {exc})"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    try:
                        data = response.json()
                    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                        self.breaker.record_failure()
                        raise F8ProtocolError(f"{method} {path}", [f"$: body is not JSON ({exc})"])
                    self.breaker.record_success()
                    return data
                message = _error_message(response)
                if status in (401, 403, 404):
                    self.breaker.record_failure()
                    raise F8RequestRefused(status, message)
                if 400 <= status < 500 and status not in (408, 429):
                    # The service is up and answering; our request is what is wrong.
                    self.breaker.record_success()
                    raise F8RequestRefused(status, message)
                last_error = f"HTTP {status}: {message}"
                retry_after = _retry_after(response)
                if retry_after is not None and attempt < self.max_attempts:
                    self._sleep(min(retry_after, self.backoff_cap))
                    continue
            logger.info("F8 %s %s attempt %d/%d failed: %s", method, path, attempt, self.max_attempts, last_error)
            if attempt < self.max_attempts:
                self._sleep(self._backoff(attempt))
        self.breaker.record_failure()
        raise F8Unavailable(f"F8 {method} {path} failed after {self.max_attempts} attempts: {last_error}")

    def _backoff(self, attempt: int) -> float:
        # Full jitter: many processes retrying at once do not knock in step.
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"][:500]
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        pass
    return (response.text or response.reason_phrase or "")[:200]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
