"""The API's documentation, offline: Swagger UI at `/docs`.

FastAPI's docs page loads its JavaScript from a CDN, so it is blank without internet. Here it
loads it from the `fastapi-offline` package, which ships Swagger UI's built files (we use only
those files, served as they are, and FastAPI's own page HTML). ReDoc is not offered: its page
fetches its logo from Redocly's CDN.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/static/docs"
ASSETS = resources.files("fastapi_offline") / "static"
FAVICON = "/static/favicon.svg"
SWAGGER_UI_PARAMETERS = {
    # No validator badge: it would send our document to validator.swagger.io.
    "validatorUrl": None,
    "defaultModelsExpandDepth": 0,
    "displayRequestDuration": True,
}


def install(app: FastAPI) -> None:
    """Serve the assets and the page (create the app with `docs_url=None`)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=str(ASSETS)), name="docs-assets")
    docs = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
    openapi_url = app.openapi_url or "/openapi.json"

    @docs.get("/docs")
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=FAVICON,
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    app.include_router(docs)
