"""A local CA for the services' mutual TLS (the test platform's and `scripts/dev`'s).

One CA, and one certificate every service uses, for both ends of a call: it carries the
shared name `oms-services` (what callers check, see `oms.platform.grpc_tls`) and 127.0.0.1.
A second, unrelated CA makes the certificates that tests expect to be refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devtools import openssl

SERVER_NAME = "oms-services"
_CONFIG = openssl.config(f"""\
[service]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:{SERVER_NAME}, DNS:localhost, IP:127.0.0.1
""")


@dataclass(frozen=True)
class Credentials:
    """Files in cert-manager's layout."""

    cert: Path
    key: Path
    ca: Path

    def environment(self) -> dict[str, str]:
        return {
            "GRPC_TLS_CERT_FILE": str(self.cert),
            "GRPC_TLS_KEY_FILE": str(self.key),
            "GRPC_TLS_CA_FILE": str(self.ca),
            "GRPC_TLS_SERVER_NAME": SERVER_NAME,
        }


def make(folder: Path, name: str = "oms") -> Credentials:
    """A CA and a service certificate signed by it, in `folder` (made once, then reused)."""
    folder.mkdir(parents=True, exist_ok=True)
    credentials = Credentials(folder / "tls.crt", folder / "tls.key", folder / "ca.crt")
    if all(path.exists() for path in (credentials.cert, credentials.key, credentials.ca)):
        return credentials
    config = folder / "openssl.cnf"
    config.write_text(_CONFIG)
    ca_key = folder / "ca.key"
    openssl.certificate(config, f"/CN={name}-local-ca", "ca", ca_key, credentials.ca, None)
    openssl.certificate(
        config,
        f"/CN={SERVER_NAME}",
        "service",
        credentials.key,
        credentials.cert,
        (credentials.ca, ca_key),
    )
    return credentials
