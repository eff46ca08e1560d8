"""The API's token authentication reads the user and the desk role in one query, and answers
exactly as DRF's TokenAuthentication followed by ``user_role`` does."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from monitoring.roles import ROLE_GROUPS, Role, TokenRoleAuthentication, has_role, user_role

pytestmark = pytest.mark.django_db


def _users(django_user_model, role_users) -> list:
    no_role = django_user_model.objects.create_user(username="no-role", password="pw-no-role-123")
    two_roles = django_user_model.objects.create_user(username="two-roles", password="pw-two-roles-123")
    two_roles.groups.add(*Group.objects.filter(name__in=[ROLE_GROUPS[Role.VIEWER], ROLE_GROUPS[Role.RISK_MANAGER]]))
    superuser = django_user_model.objects.create_superuser(username="root", password="pw-root-123")
    return [*role_users.values(), no_role, two_roles, superuser]


def test_same_user_token_and_role_as_drf(django_user_model, role_users):
    for user in _users(django_user_model, role_users):
        key = Token.objects.create(user=user).key
        ours, our_token = TokenRoleAuthentication().authenticate_credentials(key)
        theirs, their_token = TokenAuthentication().authenticate_credentials(key)
        assert ours.pk == theirs.pk and ours.username == theirs.username
        assert (our_token.key, our_token.created, our_token.user_id) == (key, their_token.created, user.pk)
        assert user_role(ours) == user_role(theirs), user.username
    assert (
        user_role(
            TokenRoleAuthentication().authenticate_credentials(Token.objects.get(user__username="two-roles").key)[0]
        )
        == Role.RISK_MANAGER
    )


def test_one_query_for_the_token_the_user_and_the_role(role_users, django_assert_num_queries):
    key = Token.objects.create(user=role_users[Role.TRADER]).key
    with django_assert_num_queries(1):
        user, _ = TokenRoleAuthentication().authenticate_credentials(key)
        assert has_role(user, Role.TRADER) and not has_role(user, Role.RISK_MANAGER)


def test_unknown_token_and_inactive_user_are_refused_with_drfs_messages(role_users):
    user = role_users[Role.TRADER]
    key = Token.objects.create(user=user).key
    user.is_active = False
    user.save(update_fields=["is_active"])
    for credentials in ("not-a-real-token", key):
        with pytest.raises(AuthenticationFailed) as ours:
            TokenRoleAuthentication().authenticate_credentials(credentials)
        with pytest.raises(AuthenticationFailed) as theirs:
            TokenAuthentication().authenticate_credentials(credentials)
        assert str(ours.value.detail) == str(theirs.value.detail)
