"""A local push service (HTTPS, its own test CA) that records what it is sent, subscribers with real
P-256 keys who can decrypt it, a real SMTP server (aiosmtpd), and Celery run eagerly."""

import base64
import email
import email.policy
import json
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import http_ece
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.push_service import tls_make
from tests.factories import ResidentFactory


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- TLS for the local push service (push endpoints must be https) ----------------------------------------


@dataclass(frozen=True)
class Tls:
    ca_file: Path
    cert_file: Path
    key_file: Path


@pytest.fixture(scope="session")
def push_tls(tmp_path_factory) -> Tls:
    """A test CA and a certificate for 127.0.0.1 signed by it, made as the benchmarks' push service's."""
    directory = tmp_path_factory.mktemp("push-tls")
    return Tls(tls_make(directory), directory / "cert.pem", directory / "key.pem")


# --- the push service -------------------------------------------------------------------------------------


@dataclass
class PushRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int = 0  # the sender's end of the connection: the same port means a kept-alive one


@dataclass
class PushService:
    """Records every POST; answers 201, or what `answers[path]` says (a list is used up in order)."""

    origin: str
    requests: list[PushRequest] = field(default_factory=list)
    answers: dict[str, list[int]] = field(default_factory=dict)
    redirect_to: str = ""

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    def answer(self, name: str, *statuses: int) -> None:
        self.answers[f"/push/{name}"] = list(statuses)

    def status_for(self, path: str) -> int:
        queue = self.answers.get(path)
        if not queue:
            return 201
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def push_service(push_tls, settings) -> Iterator[PushService]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(push_tls.cert_file, push_tls.key_file)
    service: PushService

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            service.requests.append(
                PushRequest(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body, self.client_address[1]
                )
            )
            status = service.status_for(self.path)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", f"{service.origin}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    service = PushService(origin=f"https://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings.WEBPUSH_CA_BUNDLE = str(push_tls.ca_file)
    yield service
    server.shutdown()
    server.server_close()


# --- subscribers: a browser's keys, which decrypt what the push service received ---------------------------


@dataclass
class Subscriber:
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def subscription_json(self) -> dict:
        """What the browser's PushSubscription.toJSON() gives."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth_secret)},
        }

    def decrypt(self, body: bytes) -> dict:
        """RFC 8291 aes128gcm, decrypted with http_ece as the browser would, with its own keys."""
        plain = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm"
        )
        return json.loads(plain)


@pytest.fixture
def make_subscriber(push_service):
    def make(name: str = "device-1") -> Subscriber:
        return Subscriber(
            push_service.endpoint(name), ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
        )

    return make


# --- a real SMTP server ------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    port: int
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    def only(self) -> email.message.EmailMessage:
        assert len(self.messages) == 1, [m["To"] for m in self.messages]
        return self.messages[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings) -> Iterator[Mailbox]:
    """aiosmtpd on a free port; Django's SMTP backend pointed at it. `refuse` addresses get a 550."""
    mailbox = Mailbox(port=_free_port())

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address in mailbox.refuse:
                return "550 5.1.1 No such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            mailbox.messages.append(
                email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            )
            return "250 Message accepted"

    controller = Controller(Handler(), hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": mailbox.port, "timeout": 5},
        }
    }
    yield mailbox
    controller.stop()


# --- residents --------------------------------------------------------------------------------------------


@pytest.fixture
def resident(db):
    return ResidentFactory()


@pytest.fixture
def resident_client(client, resident):
    client.force_login(resident.user)
    return client
