"""The import-linter contracts in pyproject.toml say what they claim for every module there is.

import-linter's `forbidden` contracts list what they forbid, so a module added later is allowed
by default; these tests compare the lists with the modules that exist.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
OMS = REPO / "services" / "oms"
# What the operator may use of `oms`: the shared plumbing and the event contract (queue
# names, routing keys), nothing of a service.
OPERATOR_MAY_IMPORT = {"oms.platform", "oms.domain_events"}


def _contract(name: str) -> dict[str, Any]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["name"] == name]
    return contract


def _top_level_modules() -> set[str]:
    packages = {p.name for p in OMS.iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in OMS.glob("*.py") if p.name != "__init__.py"}
    return {f"oms.{name}" for name in packages | modules}


def test_the_operator_is_forbidden_every_oms_module_but_the_platform_and_the_events() -> None:
    contract = _contract("The operator imports only the platform and the event contract")
    modules = _top_level_modules()

    assert contract["source_modules"] == ["oms_operator"]
    assert OPERATOR_MAY_IMPORT <= modules  # the names above still exist
    assert set(contract["forbidden_modules"]) == modules - OPERATOR_MAY_IMPORT
