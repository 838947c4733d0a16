"""A local Web Push service for the benchmarks, in its own process: HTTPS with a CA made for the run, and
every message decrypted with http_ece (an independent RFC 8188/8291 implementation) using the subscriber's
private key, then checked against the payload the portal must send. As tests/notify/conftest.py does.
Every message's VAPID header (RFC 8292) is verified too, as a push service does: the ES256 signature with
the key the subscription was made with, this service's origin as `aud`, an `exp` in the next 24 hours.

Run as ``python -m bench.push_service <directory> <port>``: subscribers.json in the directory maps each
endpoint name to its private key, auth secret, expected payload and application server (VAPID) key.
GET /_stats answers the counts.
"""

import datetime as dt
import ipaddress
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def tls_make(directory: Path) -> Path:
    """A CA and a certificate for 127.0.0.1 signed by it (ca.pem, cert.pem, key.pem in `directory`);
    returns the CA file (WEBPUSH_CA_BUNDLE). The push service of tests/notify/conftest.py uses it too."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench Push CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(  # Python 3.13 verifies strictly (VERIFY_X509_STRICT): a CA states its key usage
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return directory / "ca.pem"


def _b64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vapid_verified(authorization: str, *, audience: str, application_server_key: str, now: float) -> bool:
    """`vapid t=<JWT>,k=<key>` (RFC 8292 section 3): k is the subscription's application server key, the
    ES256 JWT verifies with it, `aud` is this push service's origin, `exp` lies in the next 24 hours and
    `sub` is a contact (mailto: or https:)."""
    scheme, _, parameters = authorization.partition(" ")
    parts = dict(item.strip().split("=", 1) for item in parameters.split(",") if "=" in item)
    if scheme.lower() != "vapid" or parts.get("k") != application_server_key:
        return False
    try:
        header_b64, claims_b64, signature_b64 = parts.get("t", "").split(".")
        signature = _b64(signature_b64)
        if json.loads(_b64(header_b64)).get("alg") != "ES256" or len(signature) != 64:
            return False
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64(application_server_key))
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        claims = json.loads(_b64(claims_b64))
    except (ValueError, InvalidSignature):
        return False
    expires = claims.get("exp")
    return (
        claims.get("aud") == audience
        and isinstance(expires, int)
        and now < expires <= now + 24 * 60 * 60
        and str(claims.get("sub", "")).startswith(("mailto:", "https:"))
    )


def serve(directory: Path, port: int) -> None:
    import http_ece

    audience = f"https://127.0.0.1:{port}"
    subscribers = {
        name: (
            serialization.load_pem_private_key(entry["private_key"].encode(), password=None),
            _b64(entry["auth"]),
            entry["payload"],
            entry["application_server_key"],
        )
        for name, entry in json.loads((directory / "subscribers.json").read_text()).items()
    }
    lock = threading.Lock()
    stats = {"received": 0, "decrypted_ok": 0, "bad": 0, "bad_vapid": 0, "first": 0.0, "last": 0.0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrived = time.time()
            name = self.path.rsplit("/", 1)[-1]
            ok = vapid_ok = False
            if name in subscribers and self.headers.get("Content-Encoding") == "aes128gcm":
                private_key, auth, expected, application_server_key = subscribers[name]
                vapid_ok = vapid_verified(
                    self.headers.get("Authorization", ""),
                    audience=audience,
                    application_server_key=application_server_key,
                    now=arrived,
                )
                try:
                    plain = http_ece.decrypt(
                        body, private_key=private_key, auth_secret=auth, version="aes128gcm"
                    )
                    ok = json.loads(plain) == expected and vapid_ok
                except Exception:  # any failure to decrypt is counted as bad
                    ok = False
            with lock:
                stats["received"] += 1
                stats["decrypted_ok" if ok else "bad"] += 1
                stats["bad_vapid"] += 0 if vapid_ok else 1
                stats["first"] = stats["first"] or arrived
                stats["last"] = arrived
            self.send_response(201 if ok else 400)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            with lock:
                answer = json.dumps(stats).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]))
