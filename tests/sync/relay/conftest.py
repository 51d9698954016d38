import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_target_kinds():
    from sync.relay.targets import TARGET_KINDS

    # Tests put stand-in factories in place of a kind's own (relay_helpers.use_recorder).
    saved = dict(TARGET_KINDS)
    yield
    TARGET_KINDS.clear()
    TARGET_KINDS.update(saved)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (cert, key), for STARTTLS."""
    import subprocess

    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_smtp_server(certificate):
    """A real SMTP server that requires STARTTLS (with `certificate`) and login as SMTP_USER."""
    import ssl

    from aiosmtpd.controller import Controller
    from relay_helpers import Inbox, free_port, smtp_authenticator

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, tls_context=context, require_starttls=True,
                            authenticator=smtp_authenticator, auth_exclude_mechanism=["LOGIN"])
    controller.start()
    inbox.cert = cert
    yield inbox
    controller.stop()
