"""Certificates made with the `openssl` command: private CAs and what they sign, for tests.

Each set of credentials has its own `openssl.cnf`: the head every one shares (no prompts, and
the `ca` extensions of a certificate authority), then the extensions of its own kinds of
certificate. Keys are EC P-256; certificates are valid for a year.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

EC_KEY = "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"
_HEAD = """\
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""


def run(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed:\n{result.stderr}")


def config(extensions: str) -> str:
    """An `openssl.cnf` with the `ca` extensions and these other sections."""
    return _HEAD + extensions


def certificate(
    config: Path,
    subject: str,
    extensions: str,
    key: Path,
    cert: Path,
    issuer: tuple[Path, Path] | None,
) -> None:
    """Writes a new key and its certificate, signed by `issuer` (cert, key); None: itself."""
    command = [
        *"req -x509 -new -nodes -days 365 -newkey ec".split(),
        *("-pkeyopt", "ec_paramgen_curve:P-256", "-subj", subject),
        *("-config", str(config), "-extensions", extensions),
        *("-keyout", str(key), "-out", str(cert)),
    ]
    if issuer is not None:
        command += ["-CA", str(issuer[0]), "-CAkey", str(issuer[1])]
    run(*command)
