"""The control plane's credentials: private CAs, certificates and keys made with `openssl`,
and kubeconfigs that carry them inline.

Authentication is by client certificates: the CN is the user name, each O a group. The API
server's serving certificate is valid for every name and address a client on this machine or
in a Pod would use.
"""

from __future__ import annotations

import base64
import json
import ssl
from pathlib import Path

from devtools import openssl


class Pki:
    """Private CAs and the certificates and keys the control plane needs, made by openssl."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ca_cert, self.ca_key = folder / "ca.crt", folder / "ca.key"
        self.serving_cert, self.serving_key = folder / "serving.crt", folder / "serving.key"
        # The aggregation layer's own CA: the API server proves with it that a request it
        # forwards to an extension API server carries an authenticated user.
        self.front_proxy_ca = folder / "front-proxy-ca.crt"
        self.front_proxy_cert = folder / "front-proxy-client.crt"
        self.front_proxy_key = folder / "front-proxy-client.key"
        self.service_account_key = folder / "service-account.key"
        self.service_account_public_key = folder / "service-account.pub"

    def create(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "openssl.cnf").write_text(_OPENSSL_CONFIG)
        self._certificate("ca", "/CN=oms-test-ca", "ca", issuer=None)
        self._certificate("serving", "/CN=kube-apiserver", "serving")
        self._certificate("front-proxy-ca", "/CN=oms-test-front-proxy-ca", "ca", issuer=None)
        self._certificate(
            "front-proxy-client", "/CN=front-proxy-client", "client", "front-proxy-ca"
        )
        key, public = self.service_account_key, self.service_account_public_key
        openssl.run(*openssl.EC_KEY.split(), "-out", str(key))
        openssl.run("pkey", "-in", str(key), "-pubout", "-out", str(public))

    def client(self, name: str, user: str, groups: tuple[str, ...] = ()) -> tuple[Path, Path]:
        """A client certificate: the CN is the user name, each O a group."""
        subject = "".join(f"/O={group}" for group in groups) + f"/CN={user}"
        self._certificate(name, subject, "client")
        return self.folder / f"{name}.crt", self.folder / f"{name}.key"

    def _certificate(
        self, name: str, subject: str, extensions: str, issuer: str | None = "ca"
    ) -> None:
        """Writes NAME.key and NAME.crt, signed by the CA named ISSUER (None: self-signed)."""
        folder = self.folder
        signer = None if issuer is None else (folder / f"{issuer}.crt", folder / f"{issuer}.key")
        openssl.certificate(
            folder / "openssl.cnf",
            subject,
            extensions,
            folder / f"{name}.key",
            folder / f"{name}.crt",
            signer,
        )

    def ssl_context(self, cert: Path, key: Path) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        context.load_cert_chain(cert, key)
        return context


# Extensions per kind of certificate; the serving one is valid for every name and address a
# client on this machine or in a Pod would use for the API server.
_OPENSSL_CONFIG = openssl.config("""\
[serving]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:10.96.0.1, DNS:localhost, DNS:kubernetes, \
DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
""")


def write_kubeconfig(path: Path, server_url: str, ca: Path, cert: Path, key: Path) -> None:
    """A kubeconfig with the credentials inlined, so it can be read from any folder."""

    def inline(file: Path) -> str:
        return base64.b64encode(file.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "oms-test",
                "cluster": {"server": server_url, "certificate-authority-data": inline(ca)},
            }
        ],
        "users": [
            {
                "name": "oms-test",
                "user": {
                    "client-certificate-data": inline(cert),
                    "client-key-data": inline(key),
                },
            }
        ],
        "contexts": [{"name": "oms-test", "context": {"cluster": "oms-test", "user": "oms-test"}}],
        "current-context": "oms-test",
    }
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML, and needs no library
