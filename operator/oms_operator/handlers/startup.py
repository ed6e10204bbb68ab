"""Start-up and clean-up: kopf's settings, and the clients every handler shares (in memo)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import kopf

from oms_operator import kube, naming
from oms_operator.settings import OperatorSettings
from oms_operator.state import Clients


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # Our own names for what kopf keeps on the objects, and no status.kopf field.
    settings.persistence.finalizer = f"{naming.GROUP}/cleanup"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=naming.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=naming.GROUP, key="last-handled-configuration"
    )
    settings.posting.reporting_component = naming.MANAGED_BY
    # Watch only what we serve: no CRD or namespace scanning, so no RBAC for them either.
    settings.scanning.disabled = True
    settings.watching.server_timeout = 300
    settings.networking.error_backoffs = (1, 2, 4, 8, 16, 30)

    options = getattr(memo, "settings", None) or OperatorSettings()
    kube_client = await asyncio.to_thread(kube.connect)
    http = httpx.AsyncClient(timeout=options.http_timeout_seconds)
    memo.clients = Clients(kube=kube_client, http=http, settings=options)


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    clients = getattr(memo, "clients", None)
    if isinstance(clients, Clients):
        await clients.http.aclose()
        await asyncio.to_thread(clients.kube.close)
    logger.info("operator.stopped")
