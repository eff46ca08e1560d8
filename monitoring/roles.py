"""Roles of the desk and the one place that decides who may do what.

Four groups form a ladder: Viewer < Trader < Risk Manager < Admin. Each role
can do everything the roles below it can. Pages, the API and WebSockets all ask
``has_role`` so the rules are enforced identically everywhere.
"""

from __future__ import annotations

from enum import IntEnum

from django.contrib.auth.mixins import AccessMixin
from rest_framework.permissions import SAFE_METHODS, BasePermission


class Role(IntEnum):
    NONE = 0
    VIEWER = 1
    TRADER = 2
    RISK_MANAGER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return ROLE_GROUPS[self]


ROLE_GROUPS: dict[Role, str] = {
    Role.VIEWER: "Viewer",
    Role.TRADER: "Trader",
    Role.RISK_MANAGER: "Risk Manager",
    Role.ADMIN: "Admin",
}
GROUP_ROLES = {name: role for role, name in ROLE_GROUPS.items()}


def user_role(user) -> Role:
    if user is None or not user.is_authenticated or not user.is_active:
        return Role.NONE
    if user.is_superuser:
        return Role.ADMIN
    cached = getattr(user, "_desk_role", None)
    if cached is None:
        names = user.groups.values_list("name", flat=True)
        cached = max((GROUP_ROLES.get(n, Role.NONE) for n in names), default=Role.NONE)
        user._desk_role = cached
    return cached


def has_role(user, role: Role) -> bool:
    return user_role(user) >= role


def role_context(request) -> dict:
    role = user_role(getattr(request, "user", None))
    return {
        "desk_role": role,
        "desk_role_label": role.label if role else "",
        "can_trade": role >= Role.TRADER,
        "can_manage_risk": role >= Role.RISK_MANAGER,
        "is_desk_admin": role >= Role.ADMIN,
    }


class RoleRequiredMixin(AccessMixin):
    """Page views: anonymous users go to login, signed-in users without the role get 403."""

    required_role: Role = Role.VIEWER
    # Role needed for POST/PUT/PATCH/DELETE on the same view.
    write_role: Role | None = None

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        needed = self.required_role
        if request.method not in SAFE_METHODS and self.write_role is not None:
            needed = max(needed, self.write_role)
        if not has_role(request.user, needed):
            self.raise_exception = True
            return self.handle_no_permission()
        return super().dispatch(request, *args, **kwargs)


class RolePermission(BasePermission):
    """API: reads need Viewer, writes need the view's ``write_role`` (Admin when a view forgets to say)."""

    message = "Your role does not allow this action."

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if request.method in SAFE_METHODS:
            return has_role(request.user, getattr(view, "read_role", Role.VIEWER))
        return has_role(request.user, getattr(view, "write_role", Role.ADMIN))
