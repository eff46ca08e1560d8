from __future__ import annotations

import pytest

from tests.f8.fake_f8 import FakeF8


@pytest.fixture
def fake_f8():
    server = FakeF8().start()
    yield server
    server.stop()


@pytest.fixture
def f8_settings(settings, fake_f8):
    settings.F8_API_URL = fake_f8.url
    settings.F8_API_KEY = fake_f8.api_key
    settings.F8_PORTFOLIO_ID = fake_f8.portfolio_id
    return settings


@pytest.fixture
def make_client(fake_f8):
    """A client tuned for tests: short timeouts and backoff, a breaker that resets in half a second."""
    from portfolio.f8.breaker import CircuitBreaker
    from portfolio.f8.client import F8Client, F8Config

    clients = []

    def build(*, threshold: int = 2, reset: float = 0.5, timeout: float = 0.3, attempts: int = 2, **kw):
        config = F8Config(fake_f8.url, kw.pop("api_key", fake_f8.api_key), kw.pop("portfolio_id", fake_f8.portfolio_id))
        client = F8Client(
            config,
            breaker=CircuitBreaker(failure_threshold=threshold, reset_timeout=reset, probe_timeout=reset),
            timeout=timeout,
            max_attempts=attempts,
            backoff_base=0.01,
            backoff_cap=0.05,
        )
        clients.append(client)
        return client

    yield build
    for c in clients:
        c.close()
