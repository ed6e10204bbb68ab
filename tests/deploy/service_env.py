"""Build a service's Settings from exactly the environment a container gets, and say what is
wrong with it: a variable the Settings does not read, one that does not parse, a setting left
at a loopback default that cannot work in a container, or a start-up check that refuses (the
service's own, and the platform's: plaintext gRPC outside development unless intended).

Kubernetes values from Secrets and the downward API become placeholders (never the services'
documented placeholders, which production refuses); `$(VAR)` is expanded as Kubernetes does.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from unittest import mock

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings

from oms.platform.bootstrap import PlatformSettings, check_platform

POD_IP = "10.244.0.7"
# Settings whose loopback default a service never uses, and why.
UNUSED = {
    "gateway": {
        "GRPC_HOST": "the gateway serves no gRPC",
        "GRPC_ADVERTISE_HOST": "the gateway registers GATEWAY_ADVERTISE_HOST",
        "MONGODB_URL": "the gateway has no database",
    },
}
# Addresses a customer's browser opens, not the container: loopback is right where the
# browser runs on the same machine (docker compose publishes 127.0.0.1:8080), so they are not
# loopback-checked; on a cluster they must be set (from the public URL), never defaults.
BROWSER = {"payment": ("STRIPE_SUCCESS_URL", "STRIPE_CANCEL_URL", "PAYMENT_TEST_PAGE_URL")}
LOOPBACK = re.compile(r"(127\.0\.0\.1|localhost|\[::1\])")
REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def settings_class(module: str) -> type[BaseModel]:
    """`oms.<service>.app.Settings` for the container's `python -m oms.<service>`."""
    settings: type[BaseModel] = importlib.import_module(f"{module}.app").Settings
    return settings


def sections(settings: type[BaseModel]) -> dict[str, tuple[str, type[BaseSettings]]]:
    """field name -> (env prefix, section class), for each section of a service's Settings."""
    found: dict[str, tuple[str, type[BaseSettings]]] = {}
    for name, field in settings.model_fields.items():
        section = field.annotation
        assert isinstance(section, type), section
        assert issubclass(section, BaseSettings), section
        found[name] = (str(section.model_config.get("env_prefix", "")), section)
    return found


def variables_read(settings: type[BaseModel]) -> set[str]:
    """Every environment variable a service's Settings reads: section prefix + field name."""
    names: set[str] = set()
    for prefix, section in sections(settings).values():
        for field_name, field in section.model_fields.items():
            assert field.validation_alias is None, f"{section.__name__}.{field_name}"
            names.add(f"{prefix}{field_name}".upper())
    return names


def kubernetes_env(env: Iterable[Mapping[str, Any]]) -> tuple[dict[str, str], list[str]]:
    """A container's `env` as the process sees it, and the problems found resolving it."""
    resolved: dict[str, str] = {}
    problems: list[str] = []
    for variable in env:
        name = variable["name"]
        if name in resolved:
            problems.append(f"{name} is set twice")
        source = variable.get("valueFrom")
        if source is None:
            text = str(variable.get("value", ""))
            for reference in REFERENCE.findall(text):
                if reference in resolved:
                    text = text.replace(f"$({reference})", resolved[reference])
                else:
                    problems.append(f"{name} refers to $({reference}), not defined before it")
            resolved[name] = text
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            resolved[name] = f"from-secret-{ref['name']}-{ref['key']}"
        elif source.get("fieldRef", {}).get("fieldPath") == "status.podIP":
            resolved[name] = POD_IP
        else:
            problems.append(f"{name}: no placeholder for {source}")
    return resolved, problems


def referenced(env: Iterable[Mapping[str, Any]]) -> set[str]:
    """Names other variables use through `$(NAME)`: helpers, not settings."""
    return {m for v in env for m in REFERENCE.findall(str(v.get("value", "")))}


def _values(settings: BaseModel) -> Iterable[tuple[str, Any]]:
    for name, (prefix, section) in sections(type(settings)).items():
        values = getattr(settings, name)
        for field_name in section.model_fields:
            value = getattr(values, field_name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            yield f"{prefix}{field_name}".upper(), value


def problems(
    service: str,
    env: Mapping[str, str],
    *,
    helpers: Iterable[str] = (),
    unused: Mapping[str, str] | None = None,
    browser_on_this_machine: bool = False,
) -> list[str]:
    """What keeps `oms.<service>` from starting and working with exactly `env`."""
    module = f"oms.{service}"
    settings_type = settings_class(module)
    read = variables_read(settings_type)
    found = [
        f"{name} is not a setting {module} reads" for name in sorted(set(env) - read - set(helpers))
    ]
    with mock.patch.dict(os.environ, env, clear=True):
        try:
            settings = settings_type()
        except ValidationError as exc:
            return [*found, f"{module}'s Settings refuse the environment: {exc}"]
    browser = BROWSER.get(service, ())
    if not browser_on_this_machine:
        found += [
            f"{name} must be set: customers' browsers are elsewhere"
            for name in browser
            if name not in env
        ]
    exempt = {**UNUSED.get(service, {}), **(unused or {})}
    exempt |= dict.fromkeys(browser, "a browser opens it")
    if service == "payment" and settings.stripe.api_base:  # type: ignore[attr-defined]
        exempt["STRIPE_MOCK_URL"] = "STRIPE_API_BASE is set"
    for name, value in _values(settings):
        if isinstance(value, str) and LOOPBACK.search(value) and name not in exempt:
            found.append(f"{name} is {value}: the container's own loopback")
    check = getattr(importlib.import_module(f"{module}.app"), "check", None)
    if check is not None:
        try:
            check(settings)
        except SystemExit as exc:
            found.append(f"{module} refuses to start (exit {exc.code}); its check: see stderr")
    assert isinstance(settings, PlatformSettings), module
    try:
        check_platform(service, settings)
    except SystemExit as exc:
        found.append(f"{module} refuses to start (exit {exc.code}); the platform's: see stderr")
    return found
