"""DPoP (RFC 9449): tokens bound to a key the client holds, checked on every token request and API call.

authlib 1.9 has no DPoP (SPEC 9), so this is the check of RFC 9449 section 4.3, with joserfc for the JWS:
one well-formed proof, `typ` dpop+jwt, an asymmetric algorithm, a public key in the header and nothing
private, a valid signature, the request's method and URL, a fresh `iat`, a `jti` never seen before (kept
in the shared cache for the window), and on API calls the hash of the access token. The key's RFC 7638
thumbprint (`jkt`) is what a token is bound to. The server does not hand out DPoP nonces (section 8).
"""

import base64
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from joserfc.util import to_bytes

ALGORITHMS = ("ES256", "PS256", "RS256")
# How far a proof's iat may be from our clock, either way (RFC 9449 section 11.1 leaves it to the server).
IAT_WINDOW_SECONDS = 60
MAX_PROOF_BYTES = 4096


class DPoPError(Exception):
    """The proof is missing or wrong; `description` is safe to return to the client."""

    error = "invalid_dpop_proof"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class DPoPProof:
    jkt: str
    jti: str


def b64url_sha256(value: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode("ascii")).digest()).rstrip(b"=").decode()


def request_htu(request: HttpRequest) -> str:
    """The URL a proof must name: the issuer's origin and this path, without query or fragment."""
    return settings.OIDC_ISSUER + request.path


def _public_key(header: dict[str, Any]) -> ECKey | RSAKey:
    data = header.get("jwk")
    if not isinstance(data, dict):
        raise DPoPError("The DPoP proof has no jwk header.")
    if any(member in data for member in ("d", "p", "q", "dp", "dq", "qi", "k")):
        raise DPoPError("The DPoP proof's jwk must be a public key.")
    try:
        if data.get("kty") == "EC" and data.get("crv") == "P-256":
            return ECKey.import_key(data)
        if data.get("kty") == "RSA":
            key = RSAKey.import_key(data)
            if key.raw_value.key_size < 2048:
                raise DPoPError("The DPoP proof's RSA key is shorter than 2048 bits.")
            return key
    except (JoseError, ValueError, TypeError) as exc:
        raise DPoPError("The DPoP proof's jwk is not a valid key.") from exc
    raise DPoPError("The DPoP proof's key must be EC P-256 or RSA.")


def dpop_verify(request: HttpRequest, *, access_token: str | None = None) -> DPoPProof:
    """The checked proof of this request, or DPoPError. Records its jti so that it works once."""
    values = request.headers.get("DPoP")
    if not values:
        raise DPoPError("A DPoP proof is required.")
    if "," in values or len(values) > MAX_PROOF_BYTES:
        raise DPoPError("Send exactly one DPoP proof.")
    try:
        header = jws.extract_compact(to_bytes(values)).headers()
    except (JoseError, ValueError) as exc:
        raise DPoPError("The DPoP proof is not a JWS.") from exc
    if header.get("typ") != "dpop+jwt":
        raise DPoPError("The DPoP proof's typ must be dpop+jwt.")
    if header.get("alg") not in ALGORITHMS:
        raise DPoPError("The DPoP proof's alg is not supported.")
    key = _public_key(header)
    try:
        claims = jwt.decode(values, key, algorithms=[header["alg"]]).claims
    except (JoseError, ValueError) as exc:
        raise DPoPError("The DPoP proof's signature does not verify.") from exc
    jti, htm, htu, iat = (claims.get(name) for name in ("jti", "htm", "htu", "iat"))
    if not isinstance(jti, str) or not 8 <= len(jti) <= 128:
        raise DPoPError("The DPoP proof needs a jti.")
    if htm != request.method:
        raise DPoPError("The DPoP proof's htm does not match the request.")
    if not isinstance(htu, str) or htu.split("?")[0].split("#")[0] != request_htu(request):
        raise DPoPError("The DPoP proof's htu does not match the request.")
    if not isinstance(iat, int | float) or abs(time.time() - iat) > IAT_WINDOW_SECONDS:
        raise DPoPError("The DPoP proof's iat is not recent.")
    if access_token is not None and claims.get("ath") != b64url_sha256(access_token):
        raise DPoPError("The DPoP proof's ath does not match the access token.")
    jkt = key.thumbprint()
    # Checked last, so that a proof refused for another reason can still be corrected and sent.
    replay_key = f"dpop-jti:{jkt}:{hashlib.sha256(jti.encode()).hexdigest()}"
    if not cache.add(replay_key, 1, 2 * IAT_WINDOW_SECONDS + 5):
        raise DPoPError("This DPoP proof was used before.")
    return DPoPProof(jkt=jkt, jti=jti)
