"""A bad or missing setting stops start-up with one line that names the variable."""

from __future__ import annotations

import pytest

from tests.ops.conftest import manage
from tests.processes import child_env


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MAX_DAILY_LOSS", "abc", "is not a number"),
        ("MAX_POSITION_SIZE", "-5", "out of range"),
        ("DATABASE_URL", "mysql://root@localhost/desk", "not a valid URL"),
        ("REDIS_URL", "localhost:6379", "not a valid URL"),
        ("RISK_CHECK_INTERVAL", "0", "too small"),
        ("LOG_LEVEL", "LOUD", "not allowed"),
        ("METRICS_ENABLED", "maybe", "not a boolean"),
        ("API_THROTTLE_RATE", "6000", "is not a rate"),
        ("ORDER_THROTTLE_RATE", "fast/min", "is not a rate"),
        ("ORDER_THROTTLE_RATE", "3000/ms", "is not a rate"),
        ("SECRET_KEY", "", "is not set"),
        ("CREDENTIALS_KEY", "", "is not set"),
    ],
)
def test_rejects_bad_setting_naming_the_variable(db, variable, value, expected):
    # An empty value counts as missing; real environment variables win over config/.env.
    result = manage("check", env=child_env(**{variable: value}), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert variable in result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_custom_commands_stop_the_same_way(db):
    result = manage("setup", "--validate", env=child_env(MAX_DAILY_LOSS="lots"), timeout=60)
    assert result.returncode == 2
    assert "MAX_DAILY_LOSS='lots'" in result.stderr
    assert "Traceback" not in result.stderr
