"""The cluster's certificates and keys, made with openssl once per state folder.

One CA signs the apiserver's serving certificate, the admin and apiserver-to-kubelet client
certificates and the node agent's kubelet serving certificate; a separate RSA key pair signs
service-account tokens. Everything is valid for loopback names only.
"""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

_DAYS = "3650"
# (file stem, subject, subjectAltNames or "" for a client certificate)
CERTIFICATES = (
    ("apiserver", "/CN=kube-apiserver",
     "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
     "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"),
    ("admin", "/O=system:masters/CN=kfpt-admin", ""),
    ("apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", ""),
    ("kubelet", "/CN=system:node:kfpt-node", "IP:127.0.0.1,DNS:localhost,DNS:kfpt-node"),
)


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _sign(pki: Path, stem: str, subject: str, sans: str) -> None:
    key, crt = pki / f"{stem}.key", pki / f"{stem}.crt"
    if crt.exists() and key.exists():
        return
    _openssl("genrsa", "-out", str(key), "2048")
    usage = "serverAuth" if sans else "clientAuth"
    with tempfile.TemporaryDirectory() as tmp:
        csr, ext = Path(tmp) / "req.csr", Path(tmp) / "ext.cnf"
        lines = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
                 f"extendedKeyUsage={usage}"]
        if sans:
            lines.append(f"subjectAltName={sans}")
        ext.write_text("\n".join(lines) + "\n")
        _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
                 "-CAcreateserial", "-days", _DAYS, "-sha256", "-extfile", str(ext), "-out", str(crt))
    key.chmod(0o600)


def ensure(pki: Path) -> Path:
    """Create whatever is missing under `pki` and return it."""
    pki.mkdir(parents=True, exist_ok=True)
    if not (pki / "ca.crt").exists():
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(pki / "ca.key"),
                 "-out", str(pki / "ca.crt"), "-days", _DAYS, "-subj", "/CN=kfpt-e2e-ca",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")
    for stem, subject, sans in CERTIFICATES:
        _sign(pki, stem, subject, sans)
    if not (pki / "sa.key").exists():
        _openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
        _openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
    return pki
