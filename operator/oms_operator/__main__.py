"""`python -m oms_operator`: the command the operator's container runs."""

from __future__ import annotations

import logging

import kopf

from oms.platform.settings import LogSettings
from oms_operator.handlers import cleanup, drift, restaurants, startup
from oms_operator.settings import OperatorSettings

HANDLERS = (startup, restaurants, drift, cleanup)  # importing them registered their handlers


def main() -> None:
    logs = LogSettings()
    settings = OperatorSettings()
    # kopf's JSON lines carry the object each line is about (`object`: kind, namespace, name).
    log_format = kopf.LogFormat.JSON if logs.format == "json" else kopf.LogFormat.FULL
    kopf.configure(
        verbose=logs.level.upper() == "DEBUG", log_format=log_format, log_refkey="object"
    )
    logging.getLogger().setLevel(logs.level.upper())
    for noisy in ("aio_pika", "aiormq", "urllib3", "kubernetes", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    liveness = (
        f"http://0.0.0.0:{settings.liveness_port}/healthz" if settings.liveness_port else None
    )
    kopf.run(
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        standalone=True,  # one replica; no peering resources to create or grant
        liveness_endpoint=liveness,
        memo=kopf.Memo(settings=settings),
    )


if __name__ == "__main__":
    main()
