"""Writes of the monitoring app: roles, demo users."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from monitoring.roles import ROLE_GROUPS, Role

# One demo login per role for `make run`; printed by `manage.py show_logins`.
DEMO_USERS = {
    Role.ADMIN: ("admin", "admin-demo-pass"),
    Role.RISK_MANAGER: ("risk", "risk-demo-pass"),
    Role.TRADER: ("trader", "trader-demo-pass"),
    Role.VIEWER: ("viewer", "viewer-demo-pass"),
}


def roles_ensure_groups() -> dict[Role, Group]:
    return {role: Group.objects.get_or_create(name=name)[0] for role, name in ROLE_GROUPS.items()}


@transaction.atomic
def user_create_with_role(*, username: str, password: str, role: Role, email: str = ""):
    """Create (or reset) a user in exactly one role group."""
    groups = roles_ensure_groups()
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username, defaults={"email": email})
    user.set_password(password)
    user.is_staff = role >= Role.RISK_MANAGER  # admin site: risk limits for RM, everything for Admin
    user.is_superuser = role == Role.ADMIN
    user.save()
    user.groups.set([groups[role]])
    return user


def demo_users_ensure() -> list[tuple[Role, str, str]]:
    for role, (username, password) in DEMO_USERS.items():
        user_create_with_role(username=username, password=password, role=role)
    return [(role, *creds) for role, creds in DEMO_USERS.items()]
