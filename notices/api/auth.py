"""Agency API authentication: a signed JWT client assertion (RFC 7523 style) in ``Authorization: Bearer``.

``iss`` = ``sub`` = the client id staff registered, ``aud`` = the agency API's URL, ``exp`` at most five
minutes after ``iat``, and a ``jti`` never seen before (kept in the shared cache until the assertion
expires, so a replay is refused on every process). ES256 or RS256, by a key of the client's JWKS.
"""

import base64
import hashlib
import json
import time
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from notices.conf import agency_api_audiences, conf
from notices.models import AgencyClient
from portal.core.errors import PortalError

ALGORITHMS = ["ES256", "RS256"]
MAX_ASSERTION_BYTES = 8192


def _refused(code: str, ja: str, en: str) -> PortalError:
    return PortalError(code, ja, en, 401)


def _bad_assertion(reason: str) -> PortalError:
    return _refused(
        "invalid_assertion",
        "機関の認証情報（クライアントアサーション）が正しくありません。",
        f"The client assertion is not valid: {reason}.",
    )


def _unverified_claims(token: str) -> dict[str, Any]:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise _bad_assertion("not a compact JWS") from exc
    if not isinstance(claims, dict):
        raise _bad_assertion("the claims are not an object")
    return claims


def keyset_from_jwks(jwks: Any) -> KeySet:
    """The client's public keys; ValueError if the JWKS is not usable (checked when staff save it)."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ValueError('a JWKS is {"keys": [...]} with at least one key')
    for key in jwks["keys"]:
        if not isinstance(key, dict) or key.get("kty") not in {"EC", "RSA"} or not key.get("kid"):
            raise ValueError("each key needs kty EC or RSA and a kid")
        if any(private in key for private in ("d", "p", "q")):
            raise ValueError("the JWKS holds a private key: register public keys only")
    try:
        return KeySet.import_key_set(jwks)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"a key could not be read: {exc}") from exc


def client_authenticate(token: str) -> AgencyClient:
    """The registered, active client that signed this fresh, unreplayed assertion; else a 401 PortalError."""
    if len(token) > MAX_ASSERTION_BYTES:
        raise _bad_assertion("too long")
    claims = _unverified_claims(token)
    client_id = claims.get("iss")
    client = (
        AgencyClient.objects.filter(client_id=client_id, active=True).first()
        if isinstance(client_id, str)
        else None
    )
    if client is None:
        raise _refused(
            "unknown_client",
            "登録されていない機関、または利用を停止された機関です。",
            "The client is not registered or has been deactivated.",
        )
    try:
        keys = keyset_from_jwks(client.jwks)
        verified = jwt.decode(token, keys, algorithms=ALGORITHMS)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise _bad_assertion("the signature does not verify with the registered keys") from exc
    claims = verified.claims
    now = int(time.time())
    leeway = conf("AGENCY_ASSERTION_LEEWAY")
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        raise _bad_assertion("iss and sub must both be the client id")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if not any(a in agency_api_audiences() for a in audiences):
        raise _bad_assertion("aud must be the agency API's URL")
    exp, iat = claims.get("exp"), claims.get("iat", now)
    if not isinstance(exp, int) or not isinstance(iat, int):
        raise _bad_assertion("exp (and iat, when given) must be whole seconds")
    if exp < now - leeway:
        raise _refused(
            "assertion_expired",
            "機関の認証情報（クライアントアサーション）の有効期限が切れています。",
            "The client assertion has expired.",
        )
    if iat > now + leeway or exp - min(iat, now) > conf("AGENCY_ASSERTION_MAX_LIFETIME"):
        raise _bad_assertion(f"exp must be at most {conf('AGENCY_ASSERTION_MAX_LIFETIME')} seconds ahead")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 200:
        raise _bad_assertion("jti must be a unique string of 8 to 200 characters")
    replay_key = "agency-jti:" + hashlib.sha256(f"{client.client_id}\x00{jti}".encode()).hexdigest()
    if not cache.add(replay_key, 1, timeout=max(1, exp - now + leeway)):
        raise _refused(
            "assertion_replayed",
            "この認証情報（クライアントアサーション）は使用済みです。要求ごとに新しく作成してください。",
            "This client assertion was already used. Make a new one for every request.",
        )
    return client


class AgencyClientAuthentication(BaseAuthentication):
    def authenticate(self, request: HttpRequest) -> tuple[AgencyClient, str]:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _refused(
                "assertion_missing",
                "機関の認証情報（Authorization: Bearer のクライアントアサーション）がありません。",
                "The client assertion (Authorization: Bearer <JWT>) is missing.",
            )
        return client_authenticate(token.strip()), token.strip()

    def authenticate_header(self, request: HttpRequest) -> str:
        return 'Bearer realm="agency-api"'


class IsAgencyClient(BasePermission):
    def has_permission(self, request: HttpRequest, view: Any) -> bool:
        return isinstance(request.user, AgencyClient)
