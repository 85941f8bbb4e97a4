"""The webhook transport on its own: signatures, the SSRF guard, answers and timeouts.

These call the transport in the test process against the local receiver; no worker.
"""

import base64
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest
from django.test import override_settings
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tracker.alerts.guard import address_problem
from tracker.alerts.signing import SECRET_PREFIX, secret_generate
from tracker.alerts.transports import WebhookMessage, webhook_send

from .receiver import Receiver


def _message(url: str, secrets: list[str] | None = None) -> WebhookMessage:
    return WebhookMessage(
        url=url,
        message_id="msg_test",
        body='{"type":"webhook.test","id":"x","timestamp":"2025-10-28T00:00:00+00:00","data":{}}',
        secrets=secrets or [secret_generate()],
    )


def test_secrets_are_whsec_and_at_least_24_random_bytes():
    secret = secret_generate()
    assert secret.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX))) >= 24
    assert secret != secret_generate()


def test_the_signature_verifies_with_standardwebhooks(receiver):
    secret = secret_generate()
    outcome = webhook_send(_message(receiver.url(), [secret]))
    assert outcome.succeeded and outcome.http_status == 200
    [request] = receiver.requests
    assert Webhook(secret).verify(request.body, request.headers)["type"] == "webhook.test"
    assert request.headers["webhook-id"] == "msg_test"
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_generate()).verify(request.body, request.headers)


def test_two_secrets_both_sign_during_a_rotation(receiver):
    old, new = secret_generate(), secret_generate()
    webhook_send(_message(receiver.url(), [new, old]))
    [request] = receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(request.body, request.headers)
    Webhook(new).verify(request.body, request.headers)


def test_it_handles_500_as_a_retryable_failure_with_the_body_kept(receiver):
    receiver.script("/hook", (500,))
    outcome = webhook_send(_message(receiver.url()))
    assert not outcome.succeeded and not outcome.permanent
    assert outcome.http_status == 500
    assert "scripted" in outcome.response_body


def test_it_treats_410_as_gone(receiver):
    receiver.script("/hook", (410,))
    outcome = webhook_send(_message(receiver.url()))
    assert outcome.gone and outcome.permanent and not outcome.succeeded


def test_it_does_not_follow_redirects(receiver):
    receiver.script("/hook", (302, 0, {"location": receiver.url("/elsewhere")}))
    outcome = webhook_send(_message(receiver.url()))
    assert outcome.http_status == 302 and not outcome.succeeded
    assert "redirects are not followed" in outcome.error
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_a_slow_receiver_times_out(receiver):
    receiver.script("/hook", (200, 3.0))  # the test settings allow 2 s in total
    started = time.monotonic()
    outcome = webhook_send(_message(receiver.url()))
    assert time.monotonic() - started < 2.8
    assert not outcome.succeeded and not outcome.permanent
    assert "within 2 s" in outcome.error


@pytest.fixture
def dripping_server():
    """Answers a request with headers sent one byte every 0.25 s, for up to 8 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in range(32):
                if stop.wait(0.25):
                    return
                try:
                    connection.sendall(b"x")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    stop.set()
    thread.join(5)
    listener.close()


def test_a_receiver_dripping_its_answer_is_cut_off_at_the_total_timeout(dripping_server):
    started = time.monotonic()
    outcome = webhook_send(_message(dripping_server))
    # Each byte comes well within any per-read timeout; the 2 s total is what ends it.
    assert time.monotonic() - started < 2.8
    assert not outcome.succeeded and not outcome.permanent
    assert "within 2 s" in outcome.error


def test_a_connection_refused_is_a_retryable_failure():
    with socket.socket() as placeholder:  # a port that was free a moment ago: nobody listens
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    outcome = webhook_send(_message(f"http://127.0.0.1:{port}/hook"))
    assert not outcome.succeeded and not outcome.permanent
    assert "Could not connect" in outcome.error


# --- The SSRF guard ----------------------------------------------------------------------


@pytest.fixture
def receiver6():
    server = Receiver("::1").start()
    yield server
    server.stop()


def _refused_quickly(url: str) -> str:
    started = time.monotonic()
    outcome = webhook_send(_message(url))
    # An attempt to reach 10.0.0.1 would hang until the connect timeout; a refusal is instant.
    assert time.monotonic() - started < 0.5
    assert outcome.permanent and not outcome.succeeded and outcome.http_status is None
    assert outcome.error.startswith("Refused")
    return outcome.error


@override_settings(WEBHOOK_ALLOWED_NETWORKS=[])
@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://10.0.0.1/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
        ("http://100.64.0.1/hook", "not a public"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://[fec0::1]/hook", "site-local"),
        # 6to4 with 10.0.0.1 and 169.254.169.254 inside; Teredo with 10.0.0.1 as client
        ("http://[2002:a00:1::1]/hook", "embeds 10.0.0.1 is a private"),
        ("http://[2002:a9fe:a9fe::]/latest/meta-data/", "metadata"),
        ("http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/hook", "private"),
    ],
)
def test_non_public_addresses_are_refused_without_connecting(url, why):
    assert why in _refused_quickly(url)


@override_settings(WEBHOOK_ALLOWED_NETWORKS=[])
def test_loopback_over_ipv6_is_refused_without_connecting(receiver6):
    assert "loopback" in _refused_quickly(receiver6.url())
    assert receiver6.connections == 0


@override_settings(WEBHOOK_ALLOWED_NETWORKS=[])
def test_a_host_name_resolving_to_loopback_is_refused_without_connecting(receiver, caplog):
    # "localhost" passes the URL check (it is a name); the connection checks what it
    # resolves to before connecting. The owner is told the target is not allowed; what it
    # resolved to (internal DNS) goes to the log only.
    error = _refused_quickly(f"http://localhost:{receiver.port}/hook")
    assert error == (
        "Refused: the target localhost is not allowed (webhooks may only reach public addresses)."
    )
    assert "127.0.0.1" not in error and "loopback" not in error
    assert "localhost: it resolves to 127.0.0.1 is a loopback address" in caplog.text
    assert receiver.connections == 0


@override_settings(WEBHOOK_ALLOWED_NETWORKS=[])
def test_an_ipv4_mapped_ipv6_loopback_is_refused(receiver):
    assert "loopback" in _refused_quickly(f"http://[::ffff:127.0.0.1]:{receiver.port}/hook")
    assert receiver.connections == 0


def test_6to4_and_teredo_addresses_of_public_ipv4_addresses_are_allowed():
    # 2002:5db8:d822:: is 6to4 for 93.184.216.34; Teredo's server part is not judged.
    assert address_problem(ipaddress.ip_address("2002:5db8:d822::1")) == ""
    assert address_problem(ipaddress.ip_address("2606:4700::1111")) == ""


def test_the_allowlist_lets_a_named_network_through(receiver):
    # The test settings allowlist 127.0.0.1/32, so "localhost" reaches the receiver.
    assert webhook_send(_message(f"http://localhost:{receiver.port}/hook")).succeeded
    assert receiver.connections == 1


@override_settings(WEBHOOK_ALLOW_HTTP=False)
def test_plain_http_is_refused_unless_allowed(receiver):
    assert "https" in _refused_quickly(receiver.url())
    assert receiver.connections == 0


@override_settings(WEBHOOK_ALLOWED_NETWORKS=[])
def test_the_guard_reads_every_answer_of_a_name(caplog):
    # "localhost" may answer 127.0.0.1 and ::1; both are loopback, and neither is tried.
    assert "not allowed" in _refused_quickly("http://localhost:9/hook")
    assert "is a loopback address" in caplog.text


# --- HTTPS -------------------------------------------------------------------------------


@pytest.fixture
def tls_receiver(tmp_path):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = Receiver()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server._server.socket = context.wrap_socket(server._server.socket, server_side=True)
    server.start()
    server.cert = cert
    yield server
    server.stop()


def test_https_certificates_are_verified(tls_receiver):
    outcome = webhook_send(_message(f"https://127.0.0.1:{tls_receiver.port}/hook"))
    assert not outcome.succeeded and not outcome.permanent
    assert "TLS error" in outcome.error and "certificate" in outcome.error
    assert not tls_receiver.requests


def test_https_to_a_trusted_receiver_is_signed_and_delivered(tls_receiver, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_receiver.cert))
    secret = secret_generate()
    outcome = webhook_send(_message(f"https://127.0.0.1:{tls_receiver.port}/hook", [secret]))
    assert outcome.succeeded, outcome.error
    [request] = tls_receiver.requests
    Webhook(secret).verify(request.body, request.headers)
