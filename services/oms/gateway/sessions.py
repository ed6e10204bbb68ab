"""Customer sessions: signed, expiring tokens that say which customer a request comes from.

`POST /api/session` issues one: a new customer id, as an HTTP-only cookie for the pages and
as a bearer token for API clients. A customer's routes trust only the session, never a path
segment, so nobody reads, lists or cancels another customer's orders. Tokens are signed with
`GATEWAY_SESSION_SECRET` (itsdangerous, HMAC-SHA1 over a timestamped payload) and expire after
`GATEWAY_SESSION_TTL_SECONDS`; changing the secret signs everyone out.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from oms.gateway.errors import ApiError

COOKIE = "oms_session"
CUSTOMER_TOKEN_SALT = "oms-customer-session"  # noqa: S105 - a salt, not a secret
_bearer = HTTPBearer(
    scheme_name="CustomerSession",
    description="The token `POST /api/session` gave",
    auto_error=False,
)
# Read from `request.cookies`; declared so the OpenAPI document names it.
_cookie = APIKeyCookie(
    name=COOKIE,
    scheme_name="CustomerCookie",
    description="The HTTP-only cookie `POST /api/session` set (the pages send it)",
    auto_error=False,
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
Cookie = Annotated[str | None, Depends(_cookie)]


@dataclass(frozen=True)
class Session:
    customer_id: str
    token: str
    expires_at: datetime


class Sessions:
    def __init__(self, secret: str, ttl_seconds: int, secure_cookie: bool) -> None:
        self.ttl_seconds = ttl_seconds
        self.secure_cookie = secure_cookie
        self._signer = URLSafeTimedSerializer(secret, salt=CUSTOMER_TOKEN_SALT)

    def issue(self, customer_id: str = "") -> Session:
        customer_id = customer_id or f"c_{secrets.token_urlsafe(12).replace('-', '_')}"
        token = self._signer.dumps({"c": customer_id})
        expires = datetime.now(UTC) + timedelta(seconds=self.ttl_seconds)
        return Session(customer_id, token, expires)

    def customer_of(self, token: str) -> str | None:
        try:
            payload = self._signer.loads(token, max_age=self.ttl_seconds)
        except BadSignature:
            return None
        customer = payload.get("c") if isinstance(payload, dict) else None
        return customer if isinstance(customer, str) and customer else None

    def set_cookie(self, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            session.token,
            max_age=self.ttl_seconds,
            httponly=True,
            samesite="lax",
            secure=self.secure_cookie,
            path="/",
        )

    def from_request(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None
    ) -> str | None:
        """The customer a request's bearer token or session cookie names, if valid."""
        token = credentials.credentials if credentials else request.cookies.get(COOKIE, "")
        return self.customer_of(token) if token else None

    def optional(self) -> Any:
        """A dependency giving the session's customer id, or None without a valid session."""

        async def customer(request: Request, credentials: Credentials, _: Cookie) -> str | None:
            return self.from_request(request, credentials)

        return Depends(customer)

    def required(self) -> Any:
        """A dependency giving the session's customer id; 401 without a valid session."""

        async def customer(request: Request, credentials: Credentials, _: Cookie) -> str:
            return require(self.from_request(request, credentials))

        return Depends(customer)


def require(customer_id: str | None) -> str:
    if customer_id is None:
        raise ApiError(
            401,
            "unauthenticated",
            "a customer session is required: POST /api/session, then send its token as "
            "`Authorization: Bearer <token>` (or its cookie)",
            {"WWW-Authenticate": "Bearer"},
        )
    return customer_id
