"""API tokens: obtained with a password, sent as ``Authorization: Token``, rotated and revoked."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from monitoring.models import AuditLog
from monitoring.roles import Role
from tests.factories import password_for

pytestmark = pytest.mark.django_db


def _with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_obtains_a_token_that_authenticates(role_users):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "trader", "password": password_for("trader")}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "trader" and body["role"] == "Trader"
    me = _with_token(body["token"]).get("/api/v1/auth/me/").json()
    assert me == {
        "username": "trader",
        "role": "Trader",
        "can_trade": True,
        "can_manage_risk": False,
        "is_admin": False,
    }
    # Asking again returns the same token.
    again = APIClient().post(
        "/api/v1/auth/token/", {"username": "trader", "password": password_for("trader")}, format="json"
    )
    assert again.json()["token"] == body["token"]
    assert AuditLog.objects.filter(action="api_token.create", actor_name="trader").count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"username": "trader", "password": "wrong"}, "non_field_errors"), ({"username": "trader"}, "password")],
)
def test_rejects_bad_credentials_with_400(role_users, payload, field):
    response = APIClient().post("/api/v1/auth/token/", payload, format="json")
    assert response.status_code == 400 and field in response.json()


def test_rotation_invalidates_the_old_token(role_users):
    first = (
        APIClient()
        .post("/api/v1/auth/token/", {"username": "viewer", "password": password_for("viewer")}, format="json")
        .json()["token"]
    )
    rotated = _with_token(first).post("/api/v1/auth/token/rotate/")
    assert rotated.status_code == 200
    second = rotated.json()["token"]
    assert second != first
    assert _with_token(first).get("/api/v1/orders/").status_code == 401
    assert _with_token(second).get("/api/v1/orders/").status_code == 200
    assert AuditLog.objects.filter(action="api_token.rotate", actor_name="viewer").exists()


def test_revoked_token_stops_working(role_users):
    token = (
        APIClient()
        .post("/api/v1/auth/token/", {"username": "risk", "password": password_for("risk")}, format="json")
        .json()["token"]
    )
    assert _with_token(token).delete("/api/v1/auth/token/rotate/").status_code == 204
    assert _with_token(token).get("/api/v1/orders/").status_code == 401


def test_anonymous_cannot_rotate(role_users):
    assert APIClient().post("/api/v1/auth/token/rotate/").status_code == 401


def test_session_login_works_for_the_api(api):
    assert api(Role.VIEWER).get("/api/v1/auth/me/").json()["role"] == "Viewer"
