"""HTTPS delivery connects to the checked address while TLS still verifies the URL's host: the server name sent
(SNI) and the certificate checked are the host's, and a certificate for another name is refused."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from loyalty.webhooks.addresses import Target
from loyalty.webhooks.delivery import HttpSender


def _certificate(tmp_path, host: str):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(1)
            .not_valid_before(datetime.datetime(2020, 1, 1)).not_valid_after(datetime.datetime(2040, 1, 1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False).sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return tmp_path / "cert.pem", tmp_path / "key.pem"


def _tls_server(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    seen = {"sni": [], "requests": []}
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        connection, _ = listener.accept()
        try:
            tls = context.wrap_socket(connection, server_side=True)
            seen["requests"].append(_whole_request(tls))
            tls.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            tls.close()
        except (ssl.SSLError, OSError) as error:
            seen["requests"].append(repr(error).encode())
        finally:
            listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], seen


def _whole_request(tls) -> bytes:
    """Headers and body: the client may send them in separate writes, and closing after the first would reset the
    connection under the response (the sender then sees no answer)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = tls.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = tls.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class TrustingSender(HttpSender):
    """The sender, trusting the test's self-signed certificate instead of the system's authorities."""

    def __init__(self, ca) -> None:
        super().__init__(timeout=5)
        self.ca = str(ca)

    def _pool(self, target):
        pool = super()._pool(target)
        pool.ca_certs = self.ca
        return pool


def test_https_goes_to_the_checked_address_with_the_host_s_name_in_sni_host_and_certificate(tmp_path):
    cert, key = _certificate(tmp_path, "hooks.example.com")
    port, seen = _tls_server(cert, key)
    outcome = TrustingSender(cert).post(Target("https", "hooks.example.com", port, "/in", "127.0.0.1"), b"{}",
                                        {"Content-Type": "application/json"})
    assert outcome.succeeded and outcome.status == 204
    assert seen["sni"] == ["hooks.example.com"]
    (request,) = seen["requests"]
    assert request.startswith(b"POST /in HTTP/1.1\r\n")
    assert f"host: hooks.example.com:{port}".encode() in request.lower()


def test_a_certificate_for_another_name_is_refused(tmp_path):
    cert, key = _certificate(tmp_path, "elsewhere.example.org")
    port, _ = _tls_server(cert, key)
    outcome = TrustingSender(cert).post(Target("https", "hooks.example.com", port, "/in", "127.0.0.1"), b"{}", {})
    assert not outcome.succeeded and outcome.status is None
    assert "certificate" in outcome.error.lower() or "hostname" in outcome.error.lower()


@pytest.mark.parametrize("status", [500, 404, 301])
def test_answers_other_than_2xx_are_failures(tmp_path, status):
    import http.server

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.send_response(status)
            self.send_header("Location", "http://10.0.0.1/")
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"nope!")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        outcome = HttpSender(timeout=5).post(Target("http", "127.0.0.1", server.server_port, "/", "127.0.0.1"), b"{}", {})
    finally:
        server.shutdown()
    assert not outcome.succeeded and outcome.status == status
