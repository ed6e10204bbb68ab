"""The admin routes' bearer token: 401 without one, 403 with the wrong one."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from oms.gateway.errors import ApiError

# Documented local default; every deployment sets GATEWAY_ADMIN_TOKEN.
DEFAULT_ADMIN_TOKEN = "oms-local-admin-token"  # noqa: S105

_bearer = HTTPBearer(auto_error=False, description="`GATEWAY_ADMIN_TOKEN`")


def require_admin(token: SecretStr) -> Callable[..., Awaitable[None]]:
    """A dependency that lets a request through only with `Authorization: Bearer <token>`."""
    expected = token.get_secret_value().encode()

    async def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if credentials is None:
            raise ApiError(
                401,
                "unauthenticated",
                "admin routes need an `Authorization: Bearer <token>` header",
                {"WWW-Authenticate": "Bearer"},
            )
        # Constant time, so the response time says nothing about how much of a guess matched.
        if not hmac.compare_digest(credentials.credentials.encode(), expected):
            raise ApiError(403, "forbidden", "the bearer token is not the admin token")

    return check
