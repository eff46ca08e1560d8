"""Kill switch through the API: Risk Manager and Admin only, reason required, history kept."""

from __future__ import annotations

import pytest

from monitoring.models import AuditLog
from monitoring.roles import Role
from risk.models import KillSwitch, KillSwitchEvent

pytestmark = pytest.mark.django_db


def test_risk_manager_engages_and_disengages_with_history(api, reference_data):
    client = api(Role.RISK_MANAGER)
    response = client.post(
        "/api/v1/risk/kill-switches/engage/",
        {"scope": "instrument", "target": "BTC/USD.SIM", "mode": "reduce_only", "reason": "Flash crash"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["engaged"] is True and response.json()["scope_label"] == "Instrument: BTC/USD.SIM"
    response = client.post(
        "/api/v1/risk/kill-switches/disengage/",
        {"scope": "instrument", "target": "BTC/USD.SIM", "reason": "Calm again"},
        format="json",
    )
    assert response.json()["engaged"] is False
    ks = KillSwitch.objects.get()
    history = api(Role.VIEWER).get(f"/api/v1/risk/kill-switches/{ks.pk}/events/").json()["results"]
    assert [(e["engaged"], e["reason"], e["actor"]) for e in history] == [
        (False, "Calm again", "risk"),
        (True, "Flash crash", "risk"),
    ]
    assert AuditLog.objects.filter(action__startswith="kill_switch.").count() == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"scope": "global", "reason": ""}, "reason"),
        ({"scope": "account", "reason": "x"}, "target"),
        ({"scope": "account", "target": "999999", "reason": "x"}, "target"),
        ({"mode": "panic", "reason": "x"}, "mode"),
    ],
)
def test_rejects_bad_engage_with_the_field_named(api, reference_data, payload, field):
    response = api(Role.RISK_MANAGER).post("/api/v1/risk/kill-switches/engage/", payload, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert not KillSwitchEvent.objects.exists()


@pytest.mark.parametrize(
    ("role", "expected"),
    [(None, 401), (Role.VIEWER, 403), (Role.TRADER, 403), (Role.RISK_MANAGER, 200), (Role.ADMIN, 200)],
)
def test_only_risk_managers_and_admins_hold_the_kill_switch(api, reference_data, role, expected):
    response = api(role).post("/api/v1/risk/kill-switches/engage/", {"reason": "drill"}, format="json")
    assert response.status_code == expected
    assert api(role).get("/api/v1/risk/kill-switches/flatten-preview/").status_code == expected
