"""The circuit breaker: closed → open → half-open → closed/open, with its state shared through Redis."""

import subprocess
import sys

import pytest

from portfolio.f8.breaker import CircuitBreaker
from tests.f8.support import poll


def _breaker(**kw):
    return CircuitBreaker(
        key="ni:test:breaker", **{"failure_threshold": 3, "reset_timeout": 0.3, "probe_timeout": 0.3, **kw}
    )


def test_opens_after_the_threshold_of_consecutive_failures():
    b = _breaker()
    assert b.allow()
    assert b.record_failure() == "closed"
    assert b.record_failure() == "closed"
    b.record_success()  # a success in between resets the count
    assert b.read().failures == 0
    for _ in range(2):
        b.record_failure()
    assert b.record_failure() == "open"
    state = b.read()
    assert state.state == "open" and state.retry_in is not None and state.retry_in > 0
    assert not b.allow()


def test_half_open_lets_exactly_one_probe_through_and_its_success_closes():
    b = _breaker(failure_threshold=1)
    b.record_failure()
    assert not b.allow()
    poll(lambda: b.read().retry_in == 0, timeout=3, what="the reset timeout")

    assert b.allow()  # the probe
    assert b.read().state == "half_open"
    assert not b.allow()  # a second caller waits for the probe's outcome
    assert b.record_success() == "closed"
    assert b.allow() and b.allow()


def test_a_failed_probe_opens_the_circuit_again():
    b = _breaker(failure_threshold=1)
    b.record_failure()
    poll(lambda: b.read().retry_in == 0, timeout=3, what="the reset timeout")
    assert b.allow()

    assert b.record_failure() == "open"
    assert not b.allow()


def test_a_probe_that_never_reports_back_frees_the_slot():
    b = _breaker(failure_threshold=1, probe_timeout=0.2)
    b.record_failure()
    poll(lambda: b.read().retry_in == 0, timeout=3, what="the reset timeout")
    assert b.allow()
    assert not b.allow()
    poll(b.allow, timeout=3, what="the abandoned probe's slot to expire")


def test_every_instance_and_process_sees_the_same_state(redis_server):
    here, there = _breaker(failure_threshold=2), _breaker(failure_threshold=2)
    here.record_failure()
    there.record_failure()
    assert here.read().state == "open" and not there.allow()

    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); django.setup();"
        "from portfolio.f8.breaker import CircuitBreaker;"
        "print(CircuitBreaker(key='ni:test:breaker', reset_timeout=60).read().state)"
    )
    from tests.processes import child_env

    out = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "open", out.stderr


@pytest.mark.parametrize("kw", [{"failure_threshold": 0}, {"reset_timeout": 0}, {"probe_timeout": -1}])
def test_rejects_nonsense_settings(kw):
    with pytest.raises(ValueError):
        CircuitBreaker(**kw)
