"""Monitoring API: alerts (acknowledge/resolve for Trader and up), the audit log
(Risk Manager and Admin), the caller's identity and API token."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, generics, permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import DeskPagination, validated
from monitoring.alerts import alert_acknowledge, alert_resolve
from monitoring.api import filters
from monitoring.api.serializers import AlertOutput, AuditLogOutput, MeOutput, TokenObtainInput, TokenOutput
from monitoring.models import Alert, AuditLog
from monitoring.roles import Role, user_role
from monitoring.tokens import api_token_obtain, api_token_revoke, api_token_rotate


class AlertListApi(generics.ListAPIView):
    serializer_class = AlertOutput
    pagination_class = DeskPagination
    filterset_class = filters.AlertFilter
    search_fields = ["title", "message", "source"]
    ordering_fields = ["created_at", "severity", "status"]
    queryset = Alert.objects.select_related("acknowledged_by")


class AlertDetailApi(generics.RetrieveAPIView):
    serializer_class = AlertOutput
    queryset = AlertListApi.queryset


class _AlertActionApi(generics.GenericAPIView):
    write_role = Role.TRADER
    serializer_class = AlertOutput
    queryset = Alert.objects.all()

    def act(self, *, alert, user):
        raise NotImplementedError

    @extend_schema(request=None, responses={200: AlertOutput})
    def post(self, request, pk: int):
        alert = self.act(alert=self.get_object(), user=request.user)
        return Response(AlertOutput(alert).data)


class AlertAcknowledgeApi(_AlertActionApi):
    """Open → acknowledged (a resolved alert answers 409)."""

    def act(self, *, alert, user):
        return alert_acknowledge(alert=alert, user=user)


class AlertResolveApi(_AlertActionApi):
    """Open or acknowledged → resolved."""

    def act(self, *, alert, user):
        return alert_resolve(alert=alert, user=user)


class AuditLogListApi(generics.ListAPIView):
    """Who changed what, from which value to which (Risk Manager and Admin)."""

    read_role = Role.RISK_MANAGER
    serializer_class = AuditLogOutput
    pagination_class = DeskPagination
    filterset_class = filters.AuditLogFilter
    search_fields = ["object_repr", "message", "action"]
    ordering_fields = ["at"]
    queryset = AuditLog.objects.all()


class AuditLogDetailApi(generics.RetrieveAPIView):
    read_role = Role.RISK_MANAGER
    serializer_class = AuditLogOutput
    queryset = AuditLog.objects.all()


def _token_payload(token, user) -> dict:
    role = user_role(user)
    return {"token": token.key, "username": user.get_username(), "role": role.label if role else ""}


class TokenObtainApi(APIView):
    """Exchange a username and password for the user's API token (created on first use).

    Send it afterwards as ``Authorization: Token <key>``.
    """

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        summary="Obtain your API token",
        request=TokenObtainInput,
        responses={200: TokenOutput},
        examples=[OpenApiExample("Login", value={"username": "trader", "password": "..."}, request_only=True)],
    )
    def post(self, request):
        data = validated(TokenObtainInput, request.data)
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            raise exceptions.ValidationError({"non_field_errors": ["Unable to log in with these credentials."]})
        if user_role(user) == Role.NONE:
            raise exceptions.PermissionDenied("This user has no role on the desk.")
        return Response(_token_payload(api_token_obtain(user=user), user))


class TokenRotateApi(APIView):
    """Replace your API token (the old one stops working at once), or revoke it with DELETE."""

    # Any signed-in user may manage their own token.
    write_role = Role.VIEWER

    @extend_schema(summary="Rotate your API token", request=None, responses={200: TokenOutput})
    def post(self, request):
        return Response(_token_payload(api_token_rotate(user=request.user), request.user))

    @extend_schema(summary="Revoke your API token", responses={204: None})
    def delete(self, request):
        api_token_revoke(user=request.user)
        return Response(status=204)


class MeApi(APIView):
    """Who the API thinks you are, and what your role allows."""

    @extend_schema(responses={200: MeOutput})
    def get(self, request):
        role = user_role(request.user)
        return Response(
            {
                "username": request.user.get_username(),
                "role": role.label if role else "",
                "can_trade": role >= Role.TRADER,
                "can_manage_risk": role >= Role.RISK_MANAGER,
                "is_admin": role >= Role.ADMIN,
            }
        )
