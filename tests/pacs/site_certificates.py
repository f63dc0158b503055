"""Certificates for the TLS tests, made with openssl the way docs/administration.md sets up a site: a
site CA and an unrelated one, a server certificate for 127.0.0.1, a client certificate from each CA."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SiteCertificates:
    ca: Path  # the site CA's certificate: what --tls-ca takes
    other_ca: Path  # a CA the site does not trust; it signed only the stranger
    server: Path  # for 127.0.0.1 (subjectAltName IP), usable as a client too (a PACS that stores to us)
    server_key: Path
    server_with_key: Path  # key and certificate in one PEM, as Orthanc's SslCertificate wants
    client: Path
    client_key: Path
    stranger: Path  # a client certificate from the other CA
    stranger_key: Path


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_site_certificates(folder: Path, client_cn: str = "cxr-triage") -> SiteCertificates:
    folder.mkdir(parents=True, exist_ok=True)
    for ca in ("ca", "other-ca"):
        openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem",
            "-days", "2", "-subj", f"/CN=CXR Triage test {ca}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder,
        )  # fmt: skip
    for name, ca, cn, extensions in (
        (
            "server",
            "ca",
            "127.0.0.1",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n",
        ),
        ("client", "ca", client_cn, "extendedKeyUsage=clientAuth\n"),
        ("stranger", "other-ca", "stranger", "extendedKeyUsage=clientAuth\n"),
    ):
        (folder / f"{name}.ext").write_text(
            f"basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n{extensions}"
        )
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={cn}", cwd=folder)  # fmt: skip
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=folder,
        )  # fmt: skip
    with_key = folder / "server-with-key.pem"
    with_key.write_text((folder / "server.key").read_text() + (folder / "server.pem").read_text())
    return SiteCertificates(
        ca=folder / "ca.pem", other_ca=folder / "other-ca.pem",
        server=folder / "server.pem", server_key=folder / "server.key", server_with_key=with_key,
        client=folder / "client.pem", client_key=folder / "client.key",
        stranger=folder / "stranger.pem", stranger_key=folder / "stranger.key",
    )  # fmt: skip
