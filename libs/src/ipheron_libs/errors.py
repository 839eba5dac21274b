"""Typed domain errors, each carrying the gRPC status it becomes on the wire.

Services raise these; the server interceptor turns them into a status with the
message as the clear reason (and the field, when one is named, in trailing
metadata). Anything else becomes INTERNAL with no detail sent.
"""

from __future__ import annotations

import grpc

FIELD_METADATA_KEY = "x-error-field"


class DomainError(Exception):
    """Base of every error a client may see; its message is safe to show."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND


class Conflict(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS


class Aborted(DomainError):
    code = grpc.StatusCode.ABORTED


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(DomainError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE
