"""Verifies the portal's client assertions (RFC 7523 style) as docs/contracts.md specifies.

ES256 JWS verified with joserfc against the portal's JWKS file (re-read when the file changes); claims
``iss`` = ``sub`` = ``myna-portal``, ``aud`` = this simulator's URL for the agency, ``exp`` at most 300 s
after ``iat``, and a ``jti`` that may be used once. This module must never implement cryptography itself
and must never accept an assertion on any path that skipped a check.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, JoseError, MissingClaimError
from joserfc.jwk import ECKey, KeySet

from .config import CLIENT_ID, CLOCK_SKEW_LEEWAY_S, MAX_ASSERTION_LIFETIME_S, Settings
from .errors import ApiError, unauthorized
from .store import Store

ALGORITHM = "ES256"


class ClientKeys:
    """The portal's public keys, reloaded whenever the JWKS file is replaced or edited."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._keys: dict[str, ECKey] = {}

    def _current_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self) -> dict[str, ECKey]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            key_set = KeySet.import_key_set(data)
        except (OSError, ValueError, KeyError, TypeError, JoseError):
            return {}  # unreadable or half-written: no key matches until the file is fixed
        keys: dict[str, ECKey] = {}
        for key in key_set:
            # Only P-256 EC keys can verify ES256; anything else in the set is ignored, not trusted.
            if isinstance(key, ECKey) and key.curve_name == "P-256" and key.kid:
                keys[key.kid] = key
        return keys

    def get(self, kid: str) -> ECKey | None:
        with self._lock:
            stamp = self._current_stamp()
            if stamp != self._stamp:
                self._keys = self._load() if stamp is not None else {}
                self._stamp = stamp
            return self._keys.get(kid)


class AssertionVerifier:
    """Checks one ``Authorization`` header for one agency and spends its ``jti``."""

    def __init__(self, settings: Settings, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._keys = ClientKeys(settings.client_jwks_file)

    def verify(self, authorization: str | None, agency_id: str) -> dict[str, Any]:
        """The assertion's claims, or :class:`ApiError` 401 saying what was wrong."""
        token = _bearer_token(authorization)
        try:
            header = jws.extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeEncodeError) as exc:
            raise unauthorized("invalid_assertion", "The assertion is not a compact JWS.") from exc
        if header.get("alg") != ALGORITHM:
            raise unauthorized("invalid_assertion", f"The assertion must be signed with {ALGORITHM}.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise unauthorized("invalid_assertion", "The assertion header has no 'kid'.")
        key = self._keys.get(kid)
        if key is None:
            raise unauthorized("unknown_key", f"No client key with kid '{kid}' is registered.")

        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM]).claims
        except BadSignatureError as exc:
            raise unauthorized("invalid_signature", "The assertion's signature does not verify.") from exc
        except (JoseError, ValueError) as exc:
            raise unauthorized("invalid_assertion", "The assertion could not be decoded.") from exc

        now = int(self._clock())
        audience = self._settings.audience_for(agency_id)
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=CLOCK_SKEW_LEEWAY_S,
            iss={"essential": True, "value": CLIENT_ID},
            sub={"essential": True, "value": CLIENT_ID},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise unauthorized("expired_assertion", "The assertion has expired.") from exc
        except MissingClaimError as exc:
            raise unauthorized(
                "invalid_assertion", f"The assertion lacks claim(s): {exc.description}."
            ) from exc
        except JoseError as exc:
            message = f"Claim check failed: {exc.description}."
            if getattr(exc, "claim", None) == "aud":
                message += f" The audience must be {audience}."
            raise unauthorized("invalid_assertion", message) from exc

        lifetime = claims["exp"] - claims["iat"]
        if not 0 < lifetime <= MAX_ASSERTION_LIFETIME_S:
            raise unauthorized(
                "invalid_assertion",
                f"exp must be after iat and at most {MAX_ASSERTION_LIFETIME_S} s after it.",
            )
        # Kept until the assertion could no longer be accepted anyway (exp plus the leeway).
        if not self._store.spend_jti(str(claims["jti"]), int(claims["exp"]) + CLOCK_SKEW_LEEWAY_S, now):
            raise unauthorized("replayed_assertion", "This assertion (jti) has already been used.")
        return claims


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise unauthorized("missing_assertion", "Send a client assertion as 'Authorization: Bearer <JWT>'.")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("invalid_assertion", "The Authorization header must be 'Bearer <JWT>'.")
    return token


__all__ = ["ApiError", "AssertionVerifier", "ClientKeys"]
