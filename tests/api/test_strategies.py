"""Strategies through the API: every edit is a new immutable version; running ones cannot be deleted."""

from __future__ import annotations

import pytest

from monitoring.models import AuditLog
from monitoring.roles import Role
from strategies.models import Strategy, StrategyVersion
from trading.models import Account

pytestmark = pytest.mark.django_db

URL = "/api/v1/strategies/"
SPEC = {"instruments": ["EUR/USD.SIM"], "parameters": {"fast": 10, "slow": 20}}


def _create(client, **overrides):
    payload = {"name": "EMA EURUSD", "strategy_type": "ema_cross", "spec": SPEC, **overrides}
    response = client.post(URL, payload, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_makes_version_one_and_audits(api, reference_data):
    body = _create(api(Role.TRADER), account=Account.objects.get(name="SIM-001").pk)
    assert body["version"] == 1 and body["spec"] == SPEC and body["status"] == "draft"
    assert body["account_name"] == "SIM-001" and body["created_by"] == "trader"
    entry = AuditLog.objects.get(action="strategy.create")
    assert entry.changes["name"] == [None, "EMA EURUSD"] and entry.changes["version"] == [None, 1]


def test_edit_creates_version_two_and_leaves_version_one_unchanged(api, reference_data):
    client = api(Role.TRADER)
    created = _create(client)
    v1 = StrategyVersion.objects.get(strategy_id=created["id"], number=1)
    v1_spec, v1_hash = dict(v1.spec), v1.spec_hash

    new_spec = {**SPEC, "parameters": {"fast": 12, "slow": 30}}
    response = client.patch(f"{URL}{created['id']}/", {"spec": new_spec, "note": "slower"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2 and response.json()["spec"] == new_spec

    v1.refresh_from_db()
    assert v1.spec == v1_spec and v1.spec_hash == v1_hash
    v2 = StrategyVersion.objects.get(strategy_id=created["id"], number=2)
    assert v2.spec == new_spec and v2.note == "slower" and v2.spec_hash != v1_hash
    entry = AuditLog.objects.get(action="strategy.update")
    assert entry.changes["version"] == [1, 2]
    assert entry.changes["spec_hash"] == [v1_hash, v2.spec_hash]

    versions = client.get(f"{URL}{created['id']}/versions/").json()["results"]
    assert [v["number"] for v in versions] == [2, 1]
    assert client.get(f"{URL}{created['id']}/versions/1/").json()["spec"] == SPEC


def test_rename_is_a_new_version_with_from_to(api, reference_data):
    client = api(Role.TRADER)
    created = _create(client)
    response = client.patch(f"{URL}{created['id']}/", {"name": "EMA renamed"}, format="json")
    assert response.json()["version"] == 2
    assert AuditLog.objects.get(action="strategy.update").changes["name"] == ["EMA EURUSD", "EMA renamed"]


def test_no_op_edit_creates_no_version(api, reference_data):
    client = api(Role.TRADER)
    created = _create(client)
    assert client.patch(f"{URL}{created['id']}/", {"spec": SPEC}, format="json").json()["version"] == 1
    assert StrategyVersion.objects.filter(strategy_id=created["id"]).count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"spec": ["not", "an", "object"]}, "spec"),
        ({"spec": {"instruments": ["NOPE.SIM"]}}, "spec"),
        ({"spec": {"parameters": 5}}, "spec"),
        ({"strategy_type": "astrology"}, "strategy_type"),
        ({"name": ""}, "name"),
        ({"account": 999999}, "account"),
    ],
)
def test_rejects_bad_strategy_with_the_field_named_and_writes_nothing(api, reference_data, payload, field):
    body = {"name": "Bad", "strategy_type": "ema_cross", "spec": SPEC, **payload}
    response = api(Role.TRADER).post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Strategy.objects.exists() and not StrategyVersion.objects.exists()


def test_rejects_duplicate_name(api, reference_data):
    client = api(Role.TRADER)
    _create(client)
    response = client.post(URL, {"name": "EMA EURUSD", "strategy_type": "breakout", "spec": {}}, format="json")
    assert response.status_code == 400 and "name" in response.json()


def test_rejected_edit_keeps_the_current_version(api, reference_data):
    client = api(Role.TRADER)
    created = _create(client)
    response = client.patch(f"{URL}{created['id']}/", {"spec": {"instruments": ["NOPE.SIM"]}}, format="json")
    assert response.status_code == 400 and "spec" in response.json()
    assert StrategyVersion.objects.filter(strategy_id=created["id"]).count() == 1


@pytest.mark.parametrize("status", ["simulation", "live", "paused"])
def test_refuses_to_delete_a_running_strategy_with_409_and_the_reason(api, reference_data, status):
    client = api(Role.TRADER)
    created = _create(client)
    Strategy.objects.filter(pk=created["id"]).update(status=status)
    response = client.delete(f"{URL}{created['id']}/")
    assert response.status_code == 409
    assert "stop it before deleting" in response.json()["detail"]
    assert response.json()["code"] == "strategy_running"
    assert Strategy.objects.get(pk=created["id"]).status == status
    assert not AuditLog.objects.filter(action="strategy.delete").exists()


def test_delete_retires_a_stopped_strategy_and_keeps_its_history(api, reference_data):
    client = api(Role.TRADER)
    created = _create(client)
    assert client.delete(f"{URL}{created['id']}/").status_code == 204
    strategy = Strategy.objects.get(pk=created["id"])
    assert strategy.status == "deleted" and strategy.versions.count() == 1
    assert AuditLog.objects.get(action="strategy.delete").changes == {"status": ["draft", "deleted"]}
    # Gone from the default list, still there when asked for, name free again.
    assert client.get(URL).json()["count"] == 0
    assert client.get(f"{URL}?status=deleted").json()["count"] == 1
    _create(client)
    # And a deleted strategy cannot be edited.
    assert client.patch(f"{URL}{created['id']}/", {"name": "again"}, format="json").status_code == 409
