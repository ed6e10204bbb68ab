"""Domain errors every service raises; the gRPC edge turns them into status codes.

Domain code stays free of transport concerns: it raises these, and
`grpc_server.CallInterceptor` answers INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION,
RESOURCE_EXHAUSTED, UNAUTHENTICATED or UNAVAILABLE with the error's message.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class: a request the domain refused, with a reason meant for the caller.

    `details` travel as the binary trailing metadata `oms-details-bin` (e.g. a serialized
    protobuf listing the short items), for callers that need more than the message.
    """

    def __init__(self, message: str, details: bytes = b"") -> None:
        super().__init__(message)
        self.details = details


class InvalidArgument(DomainError):
    pass


class NotFound(DomainError):
    pass


class FailedPrecondition(DomainError):
    """The request is valid but the current state forbids it (an illegal transition)."""


class ResourceExhausted(DomainError):
    """Not enough of something (stock) to do what was asked."""


class Unavailable(DomainError):
    """A dependency is down; the caller may retry."""


class Unauthenticated(DomainError):
    """The caller's credentials or signature could not be verified."""
