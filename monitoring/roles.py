"""Roles of the desk and the one place that decides who may do what.

Four groups form a ladder: Viewer < Trader < Risk Manager < Admin. Each role
can do everything the roles below it can. Pages, the API and WebSockets all ask
``has_role`` so the rules are enforced identically everywhere.
"""

from __future__ import annotations

from enum import IntEnum
from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import AccessMixin
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
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
        cached = user._desk_role = _role_of_groups(user.groups.values_list("name", flat=True))
    return cached


def _role_of_groups(names) -> Role:
    return max((GROUP_ROLES.get(n, Role.NONE) for n in names), default=Role.NONE)


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


@cache
def _token_user_sql() -> str:
    user_model = get_user_model()
    from rest_framework.authtoken.models import Token

    membership = user_model.groups.through._meta
    group_table = user_model.groups.field.related_model._meta.db_table
    return (
        f'SELECT u.*, t."created" AS token_created, ARRAY('
        f'SELECT g."name" FROM "{group_table}" g JOIN "{membership.db_table}" m ON m."group_id" = g."id" '
        f'WHERE m."{membership.get_field("user").column}" = u."id") AS desk_group_names '
        f'FROM "{Token._meta.db_table}" t JOIN "{user_model._meta.db_table}" u ON u."id" = t."user_id" '
        f'WHERE t."key" = %s'
    )


class TokenRoleAuthentication(TokenAuthentication):
    """DRF's token authentication, reading the user's desk role in the same query.

    DRF reads the token with its user, then ``has_role`` read the user's groups:
    two ORM queries per API request, each costing more CPU to build than to run
    on the order path. Here one plain SELECT returns the user, the token's date
    and the user's group names; the role is cached on the user as ``user_role``
    caches it. Same answers and messages as DRF's class."""

    def authenticate_credentials(self, key):
        from rest_framework.authtoken.models import Token

        users = list(get_user_model().objects.raw(_token_user_sql(), [key]))
        if not users:
            raise AuthenticationFailed(_("Invalid token."))
        user = users[0]
        if not user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        user._desk_role = _role_of_groups(user.desk_group_names)
        return user, Token(key=key, user=user, created=user.token_created)
