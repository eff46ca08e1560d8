from __future__ import annotations

import pytest
from django.test import Client

from monitoring.roles import Role
from tests.factories import ROLE_USERNAMES, make_reference_data, password_for


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Password hashing is not under test here; the production hasher costs a second per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def reference_data(db):
    make_reference_data()


@pytest.fixture
def browser_as(role_users):
    """``browser_as(role)``: a Django test client signed in as that role (a real session login)."""

    def client_for(role: Role) -> Client:
        client = Client()
        username = ROLE_USERNAMES[role]
        assert client.login(username=username, password=password_for(username))
        return client

    return client_for
