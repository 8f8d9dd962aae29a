"""Throwaway TLS certificates for loopback tests, made with the openssl CLI (the tests skip without it)."""

import os
import shutil
import ssl
import subprocess
import tempfile
import unittest
from typing import Tuple


def server_certificate(test_class, names: str) -> Tuple[str, ssl.SSLContext]:
    """(CA file, server context) of a self-signed certificate for ``names`` (a subjectAltName), kept for the class."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise unittest.SkipTest("TLS tests skipped: no openssl CLI to make a test certificate")
    folder = tempfile.mkdtemp()
    test_class.addClassCleanup(shutil.rmtree, folder)
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=" + names],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return cert, context
