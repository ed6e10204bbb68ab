"""Staff access: the admin token as a bearer token (API), or a signed staff cookie (screens).

The kitchen display and the staff board sign in once with the token (`POST /staff/login`);
the cookie they get is HTTP-only, signed and expiring, and a customer's session is never
accepted in its place. API clients send `Authorization: Bearer <GATEWAY_ADMIN_TOKEN>`: 401
without credentials, 403 with wrong ones.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from oms.gateway.errors import ApiError

# Documented local default; only the development mode accepts it.
DEFAULT_ADMIN_TOKEN = "oms-local-admin-token"  # noqa: S105
STAFF_COOKIE = "oms_staff"
STAFF_SALT = "oms-staff-session"
_bearer = HTTPBearer(
    scheme_name="StaffToken", description="`GATEWAY_ADMIN_TOKEN`", auto_error=False
)
# Read from `request.cookies`; declared so the OpenAPI document names it.
_cookie = APIKeyCookie(
    name=STAFF_COOKIE,
    scheme_name="StaffCookie",
    description="The HTTP-only cookie a staff sign-in sets (the staff screens send it)",
    auto_error=False,
)


class StaffAuth:
    def __init__(
        self, admin_token: str, session_secret: str, ttl_seconds: int, secure_cookie: bool
    ) -> None:
        self._token = admin_token.encode()
        self.ttl_seconds = ttl_seconds
        self.secure_cookie = secure_cookie
        self._signer = URLSafeTimedSerializer(session_secret, salt=STAFF_SALT)

    def token_matches(self, token: str) -> bool:
        # Constant time, so the response time says nothing about how much of a guess matched.
        return hmac.compare_digest(token.encode(), self._token)

    def set_cookie(self, response: Response) -> None:
        response.set_cookie(
            STAFF_COOKIE,
            self._signer.dumps("staff"),
            max_age=self.ttl_seconds,
            httponly=True,
            samesite="strict",
            secure=self.secure_cookie,
            path="/",
        )

    def cookie_valid(self, request: Request) -> bool:
        cookie = request.cookies.get(STAFF_COOKIE, "")
        if not cookie:
            return False
        try:
            return bool(self._signer.loads(cookie, max_age=self.ttl_seconds) == "staff")
        except BadSignature:
            return False

    def required(self) -> Any:
        """A dependency that lets a request through only with staff credentials."""

        async def check(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
            _: Annotated[str | None, Depends(_cookie)],
        ) -> None:
            if credentials is None:
                if self.cookie_valid(request):
                    return
                raise ApiError(
                    401,
                    "unauthenticated",
                    "staff routes need `Authorization: Bearer <admin token>` or a staff sign-in",
                    {"WWW-Authenticate": "Bearer"},
                )
            if not self.token_matches(credentials.credentials):
                raise ApiError(403, "forbidden", "the bearer token is not the admin token")

        return Depends(check)
