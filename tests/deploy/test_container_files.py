"""The Dockerfile and docker-compose.yml agree with the code (we cannot run Docker here).

Every service compose runs is a real entrypoint whose Settings build from exactly the
environment it gets (the image's and compose's), every host it names is a compose service,
and the image's command, ports, user and file ownership match what the code and the compose
file expect.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

import oms
from oms.platform.settings import GrpcSettings, OpsSettings
from tests.deploy import service_env

REPO = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = (REPO / "Dockerfile").read_text()
# The services' packages: every `oms.<name>` with a `__main__`.
ENTRYPOINTS = sorted(
    module.name
    for module in pkgutil.iter_modules(oms.__path__)
    if module.ispkg and importlib.util.find_spec(f"oms.{module.name}.__main__") is not None
)
# The settings that connect a service to another process (not the browser-facing URLs).
CONNECTIONS = ("RABBITMQ_URL", "MONGODB_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "STRIPE_MOCK_URL")
OMS_SERVICES = {name: spec for name, spec in SERVICES.items() if spec.get("image") == "oms:dev"}


def _module(command: list[str]) -> str:
    assert command[:2] == ["python", "-m"], command
    return command[2]


def _interpolated(value: object) -> str:
    """Compose's `${NAME:-default}` with nothing set in the shell: the default."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m[1] or "", str(value))


def _image_env() -> dict[str, str]:
    """The final stage's ENV (KEY=value pairs), what every container starts with."""
    env: dict[str, str] = {}
    for op, args in _dockerfile_instructions(1):
        if op == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def _dockerfile_instructions(stage: int | None = None) -> list[tuple[str, str]]:
    """(instruction, arguments) in order; `stage` keeps only that FROM's instructions."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines()]
    instructions = [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]
    if stage is None:
        return instructions
    stages: list[list[tuple[str, str]]] = []
    for instruction in instructions:
        if instruction[0] == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages[stage]


def test_compose_runs_every_service_the_code_has() -> None:
    modules = sorted(_module(spec["command"]) for spec in OMS_SERVICES.values())

    assert modules == [f"oms.{name}" for name in ENTRYPOINTS]
    assert set(ENTRYPOINTS) == {"menu", "stock", "order", "payment", "kitchen", "gateway"}


@pytest.mark.parametrize("service", sorted(OMS_SERVICES))
def test_each_service_starts_with_exactly_the_environment_compose_gives_it(service: str) -> None:
    spec = OMS_SERVICES[service]
    compose = {name: _interpolated(value) for name, value in spec["environment"].items()}
    image = {k: v for k, v in _image_env().items() if not k.startswith(("PATH", "PYTHON"))}

    # The image's ENV serves every process: only compose's own variables must be read.
    found = service_env.problems(
        service, image | compose, helpers=set(image) - set(compose), browser_on_this_machine=True
    )

    assert _module(spec["command"]) == f"oms.{service}"
    assert compose["OMS_MODE"] == "development"
    assert found == []


@pytest.mark.parametrize("service", sorted(OMS_SERVICES))
def test_each_service_is_probed_on_the_port_it_serves(service: str) -> None:
    spec = OMS_SERVICES[service]
    probe = spec["healthcheck"]["test"]
    env = spec["environment"]

    assert probe[:4] == ["CMD", "python", "-m", "oms.platform.healthcheck"]
    assert importlib.util.find_spec("oms.platform.healthcheck") is not None
    # Every process, the gateway too, is ready when its ops server says so.
    assert probe[4:] == ["http", f"http://127.0.0.1:{env['OPS_PORT']}/readyz"]
    # Consul, in its own container, checks http://<advertised host>:<ops port>/readyz.
    assert env["OPS_HOST"] == "0.0.0.0"  # noqa: S104
    if service == "gateway":
        assert spec["ports"] == [f"127.0.0.1:8080:{env['GATEWAY_PORT']}"]
        assert env["GATEWAY_ADVERTISE_HOST"] == service
    else:
        assert env["GRPC_ADVERTISE_HOST"] == service


@pytest.mark.parametrize("service", sorted(OMS_SERVICES))
def test_each_service_names_only_hosts_compose_runs_and_waits_for_them(service: str) -> None:
    spec = OMS_SERVICES[service]
    env = spec["environment"]
    hosts = {urlsplit(str(env[name])).hostname for name in CONNECTIONS if name in env}
    if "CONSUL_HTTP_ADDR" in env:
        hosts.add(str(env["CONSUL_HTTP_ADDR"]).rsplit(":", 1)[0])

    assert hosts <= set(SERVICES), hosts - set(SERVICES)
    assert hosts <= set(spec["depends_on"]), f"{service} does not wait for {hosts}"
    for dependency in spec["depends_on"]:
        assert dependency in SERVICES


def _package_dir() -> str:
    venv = next(args for op, args in _dockerfile_instructions(0) if op == "RUN" and "venv" in args)
    base = next(args for op, args in _dockerfile_instructions(1) if op == "FROM")
    version = re.search(r"python:(\d+\.\d+)", base)
    assert version is not None
    return f"{shlex.split(venv)[-1]}/lib/python{version[1]}/site-packages/oms"


def test_hot_reload_syncs_the_code_into_the_installed_package() -> None:
    for spec in OMS_SERVICES.values():
        sync = spec["develop"]["watch"][0]
        assert sync["action"] == "sync+restart"
        assert (REPO / sync["path"]).resolve() == Path(oms.__path__[0]).resolve()
        assert sync["target"] == _package_dir()


def test_the_container_user_owns_the_folder_hot_reload_writes_into() -> None:
    final = _dockerfile_instructions(1)
    user = next(args for op, args in final if op == "USER")
    owners: dict[str, str] = {}  # destination -> owner, as the final stage leaves it
    for op, args in final:
        if op == "COPY":
            words = args.split()
            options = {w.split("=", 1)[0]: w.partition("=")[2] for w in words if w[:2] == "--"}
            owners[words[-1].rstrip("/")] = options.get("--chown", "0:0")
    target = _package_dir()
    # Set after the whole venv was copied as root, so this copy is the one that stays.
    destinations = list(owners)

    assert owners.get(target) == user == "10001:10001", owners
    assert destinations.index(target) > destinations.index("/opt/oms")
    assert owners["/opt/oms"] == "0:0"  # the libraries stay root's


def test_the_image_is_multi_stage_slim_and_runs_as_a_user() -> None:
    final = _dockerfile_instructions(1)
    froms = [args for op, args in _dockerfile_instructions() if op == "FROM"]
    user = next(args for op, args in final if op == "USER")
    command = yaml.safe_load(next(args for op, args in final if op == "CMD"))

    assert len(froms) == 2
    assert all("slim" in image for image in froms)
    assert user.split(":")[0] not in ("0", "root")
    assert _module(command) == "oms.gateway"
    assert importlib.util.find_spec(f"{_module(command)}.__main__") is not None


def test_the_image_exposes_the_ports_the_services_listen_on() -> None:
    exposed = {
        int(port)
        for op, args in _dockerfile_instructions(1)
        if op == "EXPOSE"
        for port in args.split()
    }
    gateway = importlib.import_module("oms.gateway.app").GatewaySettings()

    assert exposed == {GrpcSettings().port, gateway.port, OpsSettings().port}


def test_the_image_copies_only_what_exists() -> None:
    for op, args in _dockerfile_instructions():
        if op == "COPY" and "--from" not in args:
            for source in args.split()[:-1]:
                assert (REPO / source).exists(), source
