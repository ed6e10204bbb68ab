"""The staff's screens: sign-in, the kitchen display (KDS) and the staff board.

Staff sign in once with the admin token (`/staff/login`); the gateway answers with its
signed, HTTP-only `oms_staff` cookie (`StaffAuth.set_cookie`), which the screens' calls to
`/api/admin/...` then carry. Without that cookie a staff screen is only the sign-in form: a
customer's session never opens one, and a wrong token gets the form back with an error.
Attempts are limited per address, so the token cannot be guessed at speed.
"""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from oms.gateway.auth import STAFF_COOKIE, StaffAuth
from oms.gateway.pages import ScreenOptions, render
from oms.gateway.ratelimit import TokenBuckets, client_address
from oms.gateway.schemas import STATUS
from oms.limits import MAX_RETURN_PATH

SCREENS = {"/kitchen": "Kitchen display", "/staff": "Staff board"}
NAV = {"/kitchen": "Kitchen", "/staff": "Staff board"}
LOGIN_PATH = "/staff/login"
LOGIN_RATE_PER_MINUTE = 10
LOGIN_BURST = 10
MAX_TOKEN = 512


def _next(value: str) -> str:
    # Only our own screens: a sign-in link can never send staff to another site.
    return value if value in SCREENS else "/kitchen"


def router(staff: StaffAuth, options: ScreenOptions) -> APIRouter:
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
    attempts = TokenBuckets(LOGIN_RATE_PER_MINUTE / 60, LOGIN_BURST)

    def login_form(
        request: Request, next_path: str, error: str = "", status_code: int = 200
    ) -> Response:
        context = {
            "options": options,
            "next": next_path,
            "screen": SCREENS[next_path],
            "error": error,
        }
        return render(request, "staff_login.html", context, status_code)

    def screen(request: Request, path: str, template: str) -> Response:
        if not staff.cookie_valid(request):
            return RedirectResponse(f"{LOGIN_PATH}?next={path}", 303)
        context = {"options": options, "screens": NAV, "current": path}
        context["statuses"] = list(STATUS.values())
        return render(request, template, context)

    @pages.get(LOGIN_PATH)
    async def login_page(
        request: Request, next: Annotated[str, Query(max_length=MAX_RETURN_PATH)] = "/kitchen"
    ) -> Response:
        if staff.cookie_valid(request):
            return RedirectResponse(_next(next), 303)
        return login_form(request, _next(next))

    @pages.post(LOGIN_PATH)
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        next_path = _next(form.get("next", [""])[0])
        token = form.get("token", [""])[0].strip()
        wait = attempts.take(client_address(request))
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            message = f"Too many attempts. Try again in {seconds} s."
            return login_form(request, next_path, message, 429)
        if not token or len(token) > MAX_TOKEN or not staff.token_matches(token):
            return login_form(request, next_path, "That is not the staff token.", 401)
        response = RedirectResponse(next_path, 303)
        staff.set_cookie(response)
        return response

    @pages.post("/staff/logout")
    async def logout() -> Response:
        response = RedirectResponse(LOGIN_PATH, 303)
        response.delete_cookie(STAFF_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @pages.get("/kitchen")
    async def kitchen(request: Request) -> Response:
        return screen(request, "/kitchen", "kitchen.html")

    @pages.get("/staff")
    async def board(request: Request) -> Response:
        return screen(request, "/staff", "staff.html")

    return pages
