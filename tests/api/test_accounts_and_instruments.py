"""Accounts and instruments (Admin writes): credentials encrypted at rest and never returned."""

from __future__ import annotations

import json

import pytest

from monitoring.models import AuditLog
from monitoring.roles import Role
from trading.credentials import account_credentials
from trading.models import Account, Instrument, Sector, Venue

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-value-that-must-not-leak"


def test_credentials_are_encrypted_and_never_returned(api, reference_data):
    client = api(Role.ADMIN)
    venue = Venue.objects.get(code="BINANCE")
    response = client.post(
        "/api/v1/accounts/",
        {
            "name": "BINANCE-FUT",
            "venue": venue.pk,
            "base_currency": "usdt",
            "credentials": {"api_key": "key-1", "api_secret": SECRET},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert SECRET not in response.content.decode() and "credentials" not in response.json()
    assert response.json()["has_credentials"] is True and response.json()["base_currency"] == "USDT"

    account = Account.objects.get(name="BINANCE-FUT")
    assert SECRET not in account.credentials_encrypted
    assert account_credentials(account) == {"api_key": "key-1", "api_secret": SECRET}

    for role in (Role.VIEWER, Role.ADMIN):
        listing = api(role).get("/api/v1/accounts/").content.decode()
        assert SECRET not in listing and account.credentials_encrypted not in listing
    audit = json.dumps(list(AuditLog.objects.values("changes", "message")))
    assert SECRET not in audit and "key-1" not in audit


def test_admin_rotates_and_clears_credentials(api, reference_data):
    client = api(Role.ADMIN)
    account = Account.objects.get(name="SIM-001")
    url = f"/api/v1/accounts/{account.pk}/"
    client.patch(url, {"credentials": {"api_key": "a", "api_secret": "b"}}, format="json")
    client.patch(url, {"credentials": {"api_key": "c", "api_secret": "d"}}, format="json")
    account.refresh_from_db()
    assert account_credentials(account) == {"api_key": "c", "api_secret": "d"}
    assert client.patch(url, {"credentials": {}}, format="json").json()["has_credentials"] is False
    changes = list(
        AuditLog.objects.filter(action="account.credentials").order_by("id").values_list("changes", flat=True)
    )
    assert [c["credentials"][0] for c in changes] == ["unset", "set", "set"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"credentials": {"api_kye": "typo"}}, "credentials"),
        ({"credentials": {"api_key": "  "}}, "credentials"),
        ({"leverage": "-1"}, "leverage"),
        ({"starting_balance": "NaN"}, "starting_balance"),
        ({"account_type": "hedge-fund"}, "account_type"),
        ({"name": "BINANCE-SPOT"}, "name"),
    ],
)
def test_rejects_bad_account_changes_with_the_field_named(api, reference_data, payload, field):
    account = Account.objects.get(name="SIM-001")
    before = (account.leverage, account.credentials_encrypted, account.name)
    response = api(Role.ADMIN).patch(f"/api/v1/accounts/{account.pk}/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    account.refresh_from_db()
    assert (account.leverage, account.credentials_encrypted, account.name) == before
    assert not AuditLog.objects.filter(action__startswith="account.").exists()


def test_admin_disables_an_account(api, reference_data):
    account = Account.objects.get(name="SIM-001")
    response = api(Role.ADMIN).patch(f"/api/v1/accounts/{account.pk}/", {"disabled": True}, format="json")
    assert response.json()["status"] == "disabled"
    assert AuditLog.objects.get(action="account.update").changes["status"] == ["disconnected", "disabled"]


def test_instrument_create_derives_the_nautilus_id(api, reference_data):
    response = api(Role.ADMIN).post(
        "/api/v1/instruments/",
        {
            "symbol": "NVDA",
            "venue": Venue.objects.get(code="SIM").pk,
            "asset_class": "equity",
            "sector": Sector.objects.get(code="technology").pk,
            "quote_currency": "usd",
            "tick_size": "0.01",
            "lot_size": "1",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["instrument_id"] == "NVDA.SIM" and response.json()["quote_currency"] == "USD"
    assert AuditLog.objects.filter(action="instrument.create", object_repr="NVDA.SIM").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"tick_size": "0"}, "tick_size"), ({"lot_size": "-1"}, "lot_size"), ({"symbol": "MSFT"}, "__all__")],
)
def test_rejects_bad_instrument_changes(api, reference_data, payload, field):
    instrument = Instrument.objects.get(instrument_id="AAPL.SIM")
    response = api(Role.ADMIN).patch(f"/api/v1/instruments/{instrument.pk}/", payload, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body or (field == "__all__" and "non_field_errors" in body), body
    instrument.refresh_from_db()
    assert instrument.symbol == "AAPL" and instrument.tick_size > 0


def test_instrument_list_filters_and_searches(api, reference_data):
    client = api(Role.VIEWER)
    crypto = client.get("/api/v1/instruments/?asset_class=crypto").json()["results"]
    assert {i["instrument_id"] for i in crypto} == {"BTC/USD.SIM", "ETH/USD.SIM"}
    assert [i["instrument_id"] for i in client.get("/api/v1/instruments/?search=MSFT").json()["results"]] == [
        "MSFT.SIM"
    ]
