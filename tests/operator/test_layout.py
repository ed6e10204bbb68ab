"""The top-level operator/ folder holds the oms_operator package and is never itself one."""

from __future__ import annotations

import operator
import sysconfig
from pathlib import Path

import oms_operator
from tests.operator import examples


def test_the_operator_folder_never_shadows_the_standard_librarys_operator() -> None:
    assert not (examples.REPO / "operator" / "__init__.py").exists()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    assert Path(operator.__file__).parent == stdlib
    assert Path(oms_operator.__file__).parent == examples.REPO / "operator" / "oms_operator"
