"""Small modules (DEVELOPERS.md, "Style"): no hand-written Python module is over 300 lines.

Generated contracts (`*_pb2*`) and tests are not held to it; everything else that runs is:
the services, the operator, the tooling, the bench and the scripts.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HAND_WRITTEN = ("services", "operator", "devtools", "bench", "scripts")
MAX_LINES = 300


def _is_python(path: Path) -> bool:
    if path.suffix == ".py":
        return True
    if path.suffix or not path.is_file():
        return False
    # A script without an ending (scripts/dev): its first line says it is Python.
    with path.open("rb") as file:
        first = file.readline()
    return first.startswith(b"#!") and b"python" in first


def hand_written_modules() -> list[Path]:
    found = []
    for top in HAND_WRITTEN:
        for path in sorted((REPO / top).rglob("*")):
            if "__pycache__" in path.parts or "_pb2" in path.name:
                continue
            if _is_python(path):
                found.append(path)
    return found


def test_no_hand_written_module_is_over_300_lines() -> None:
    modules = hand_written_modules()
    sizes = {str(p.relative_to(REPO)): len(p.read_text().splitlines()) for p in modules}
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}

    assert len(modules) > 100, "the walk found the modules"
    assert too_long == {}, f"split these modules (at most {MAX_LINES} lines each): {too_long}"
