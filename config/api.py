"""One place where domain errors become HTTP answers for the API.

400  field errors: DRF ``ValidationError`` and Django ``ValidationError`` raised by
     services, as ``{"field": ["message", ...]}`` (``non_field_errors`` when no field)
401  no or bad credentials (``WWW-Authenticate: Token``)
403  authenticated but the role does not allow it
404  unknown object or URL
409  a conflict with the state of the desk: ``ConflictError`` from a service, an
     illegal order transition, a row still referenced, a uniqueness race
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A refusal the caller can act on: the message is shown to the user as is."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, code: str = "invalid", extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}


class ConflictError(ApplicationError):
    """The request is well formed but the current state forbids it (HTTP 409)."""

    status_code = status.HTTP_409_CONFLICT


def _django_validation_detail(exc: DjangoValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        detail = dict(exc.message_dict)
        if "__all__" in detail:
            detail["non_field_errors"] = detail.pop("__all__")
        return detail
    return {"non_field_errors": exc.messages}


def _conflict(message: str, code: str, **extra) -> Response:
    return Response({"detail": message, "code": code, **extra}, status=status.HTTP_409_CONFLICT)


def exception_handler(exc, context):
    from trading.lifecycle import IllegalTransition

    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=_django_validation_detail(exc))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        # DRF answers 403 when the first authenticator is the session one; an API
        # client without credentials is unauthenticated, and says so with 401.
        exc.status_code = status.HTTP_401_UNAUTHORIZED
        exc.auth_header = "Token"
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, "code": exc.code, **exc.extra}, status=exc.status_code)
    if isinstance(exc, IllegalTransition):
        return _conflict(str(exc), "illegal_transition", status=exc.from_status, requested=exc.to_status)
    if isinstance(exc, (ProtectedError, RestrictedError)):
        return _conflict("This object is still referenced by other records and cannot be deleted.", "protected")
    if isinstance(exc, IntegrityError):
        # Services validate first; reaching here means a concurrent write won the race.
        logger.info("integrity conflict in %s: %s", context.get("view").__class__.__name__, exc)
        return _conflict("The change conflicts with another one made at the same time; reload and retry.", "conflict")
    return drf_exception_handler(exc, context)


class DeskPagination(PageNumberPagination):
    """The configured page size, adjustable per request up to a bound."""

    page_size_query_param = "page_size"
    max_page_size = 500


def validated(serializer_class, data, *, partial: bool = False, context: dict | None = None) -> dict:
    """Run an input serializer (shape only) and return its data; a bad shape is a 400."""
    serializer = serializer_class(data=data, partial=partial, context=context or {})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
