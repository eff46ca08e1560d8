import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Page tests create four users per test; PBKDF2's deliberate slowness buys
    # nothing here (login itself is covered through the real hasher in tests/ui).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
