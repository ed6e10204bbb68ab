"""`ManagedProcess` on real subprocesses: it waits for the readiness probe until a deadline,
reports a process that dies early with its log, and stops a process whether or not it listens
to SIGTERM, together with its children."""

from __future__ import annotations

import os
import signal
import socket
import sys
import textwrap
import time
from pathlib import Path

import pytest

from devtools import process as process_module
from devtools.process import ManagedProcess

# Each script becomes ready by creating `ready` in its working directory.
READY = "open('ready', 'w').close()"


class Script(ManagedProcess):
    """`python -c CODE` in its own folder; ready once that folder holds the file `ready`."""

    name = "script"

    def __init__(self, workdir: Path, code: str) -> None:
        super().__init__(workdir)
        self.code = textwrap.dedent(code)
        self.probes = 0

    def command(self) -> list[str]:
        return [sys.executable, "-c", self.code]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "SCRIPT_GREETING": "hello"}

    def is_ready(self) -> bool:
        self.probes += 1
        return (self.workdir / "ready").exists()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "script"


def test_start_returns_once_ready_having_run_in_its_folder_with_its_environment(
    workdir: Path,
) -> None:
    script = Script(
        workdir,
        f"""
        import os, signal
        print("starting", flush=True)
        with open("seen.tmp", "w") as seen:
            seen.write(os.getcwd() + "\\n" + os.environ["SCRIPT_GREETING"])
        os.rename("seen.tmp", "seen")
        {READY}
        signal.pause()
        """,
    )
    assert not script.running
    assert script.stop() is None  # never started: nothing to stop

    script.start()
    try:
        assert script.running
        assert (workdir / "seen").read_text().splitlines() == [str(workdir), "hello"]
        assert script.log_tail() == "starting"
    finally:
        code = script.stop()

    assert code == -signal.SIGTERM
    assert not script.running


def test_a_process_never_ready_is_stopped_at_the_deadline_with_its_log(workdir: Path) -> None:
    script = Script(
        workdir,
        """
        import signal
        print("still warming up", flush=True)
        signal.pause()
        """,
    )
    script.ready_timeout = 1.0

    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"^script not ready in 1\.0s") as raised:
        script.start()

    assert time.monotonic() - started >= 1.0
    assert script.probes > 1, "the probe is polled until the deadline"
    assert "still warming up" in str(raised.value)
    assert not script.running
    assert script.process is not None
    assert script.process.returncode == -signal.SIGTERM


def test_a_process_that_exits_early_raises_with_its_exit_code_and_log_tail(
    workdir: Path,
) -> None:
    script = Script(
        workdir,
        """
        import sys
        print("listen 127.0.0.1:1: permission denied", file=sys.stderr)
        sys.exit(3)
        """,
    )

    with pytest.raises(RuntimeError, match=r"^script exited early \(exit code 3\)") as raised:
        script.start()

    assert "listen 127.0.0.1:1: permission denied" in str(raised.value)
    assert "permission denied" in script.log_path.read_text()
    assert not script.running


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(workdir: Path) -> None:
    script = Script(
        workdir,
        f"""
        import signal
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        {READY}
        signal.pause()
        """,
    )
    script.stop_grace = 0.5
    script.start()

    asked = time.monotonic()
    code = script.stop()

    assert code == -signal.SIGKILL
    assert time.monotonic() - asked >= 0.5, "SIGKILL only after the grace"
    assert not script.running


# A child of the script that leaves a mark when SIGTERM reaches it.
GRANDCHILD = """
import signal, sys
def leave(*_):
    open("grandchild-stopped", "w").close()
    sys.exit(0)
signal.signal(signal.SIGTERM, leave)
print("armed", flush=True)
signal.pause()
"""


def test_stop_signals_the_whole_process_group_and_returns_the_exit_code(workdir: Path) -> None:
    # The script never forwards SIGTERM: its child hears it only if the group is signalled.
    script = Script(
        workdir,
        f"""
        import signal, subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", {GRANDCHILD!r}], stdout=subprocess.PIPE)
        child.stdout.readline()  # "armed": its SIGTERM handler is in place
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(child.wait()))
        {READY}
        signal.pause()
        """,
    )
    script.start()

    assert script.stop() == 0
    assert (workdir / "grandchild-stopped").exists()


def test_kill_does_not_wait_for_a_graceful_exit(workdir: Path) -> None:
    script = Script(
        workdir,
        f"""
        import signal, sys
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        {READY}
        signal.pause()
        """,
    )
    script.start()

    script.kill()

    assert script.process is not None
    assert script.process.returncode == -signal.SIGKILL
    assert not script.running


def test_a_missing_program_is_reported_before_anything_runs(workdir: Path) -> None:
    class Missing(Script):
        def command(self) -> list[str]:
            return [str(workdir / "no-such-server")]

    missing = Missing(workdir, "")

    with pytest.raises(RuntimeError, match="no-such-server is missing"):
        missing.start()
    assert missing.process is None


def test_free_ports_are_distinct_bindable_and_outside_the_ephemeral_range() -> None:
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    low, high = int(ephemeral[0]), int(ephemeral[1])
    ports = [process_module.free_port() for _ in range(50)]

    assert len(set(ports)) == len(ports)
    assert all(not low <= port <= high for port in ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))


def test_free_port_skips_a_port_something_listens_on(monkeypatch: pytest.MonkeyPatch) -> None:
    taken, free = process_module.free_port(), process_module.free_port()
    monkeypatch.setattr(process_module, "_handed_out", set())
    monkeypatch.setattr(process_module, "_ports_outside_ephemeral_range", lambda: [taken, free])
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", taken))
        listener.listen()

        assert process_module.free_port() == free
        with pytest.raises(RuntimeError, match="no free loopback port"):
            process_module.free_port()
