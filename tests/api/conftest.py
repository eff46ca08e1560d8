from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from monitoring.roles import Role
from tests.factories import ROLE_USERNAMES, make_reference_data, password_for


@pytest.fixture
def reference_data(db):
    make_reference_data()


@pytest.fixture
def api(role_users):
    """``api(role)``: an APIClient signed in (session) as that role; ``api(None)``: anonymous."""

    def client_for(role: Role | None) -> APIClient:
        client = APIClient()
        if role is not None:
            username = ROLE_USERNAMES[role]
            assert client.login(username=username, password=password_for(username))
        return client

    return client_for


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Password hashing is not under test here; the production hasher costs a second per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
