"""The bank as a client of the portal's consent API (docs/consent-api.md), on authlib's OAuth 2.0 client.

Everything is found from the portal's discovery document. Every call to an OAuth endpoint authenticates
with ``private_key_jwt`` (authlib's ``PrivateKeyJWT``, ES256, ``aud`` = the issuer, two minutes); the token
request and every resource call carry a DPoP proof (``dpop.py``). ID tokens and consent-ended notices are
verified against the portal's ``jwks_uri``. This module must never import the portal: HTTP only.
"""

from __future__ import annotations

import base64
import hashlib
import time
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import authlib.deprecate  # noqa: F401 - first, so that the filter below outranks its "always"
import httpx
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc import jwt
from joserfc.errors import DecodeError, JoseError
from joserfc.jwk import ECKey, KeySet
from joserfc.jwt import JWTClaimsRegistry

from simulators.bank.config import KEY_ID, Settings
from simulators.bank.dpop import DPoPAuth
from simulators.bank.errors import BankProblem

with warnings.catch_warnings():
    # authlib 1.9 prefers the httpx2 package and warns when it falls back to httpx, which is pinned here.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated", category=DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

#: The discovery document and the portal's keys are read again after this long.
METADATA_SECONDS = 300
#: A failed signature check reads the JWKS again (a rotated key), but not more often than this.
JWKS_REFRESH_MIN_SECONDS = 30
ASSERTION_SECONDS = 120  # the contract allows at most 300
CLOCK_LEEWAY_SECONDS = 60
SIGNING_ALGS = ["ES256"]  # the portal signs ID tokens and consent notices with its P-256 key
CONSENT_END_REASONS = ["revoked", "expired", "used", "controller_changed"]
MAX_RETRY_AFTER_SECONDS = 3600


class ConsentEventInvalid(Exception):
    """A consent-ended notice that is not a valid JWT from the portal for this bank."""


@dataclass(frozen=True)
class PortalMetadata:
    issuer: str
    authorization_endpoint: str
    pushed_authorization_request_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str
    iss_parameter_supported: bool

    @classmethod
    def parse(cls, document: Any, *, expected_issuer: str) -> PortalMetadata:
        if not isinstance(document, dict):
            raise BankProblem("portal_metadata_invalid", "not a JSON object")
        # OpenID Connect Discovery 4.3: the issuer must be exactly the one we asked (no mix-up).
        if document.get("issuer") != expected_issuer:
            raise BankProblem("portal_metadata_invalid", f"issuer {document.get('issuer')!r}")
        endpoints = {}
        for name in (
            "authorization_endpoint",
            "pushed_authorization_request_endpoint",
            "token_endpoint",
            "jwks_uri",
        ):
            value = document.get(name)
            if not isinstance(value, str) or not value.startswith(("https://", "http://")):
                raise BankProblem("portal_metadata_invalid", f"{name} missing")
            endpoints[name] = value
        userinfo = document.get("userinfo_endpoint")
        if not isinstance(userinfo, str) or not userinfo.startswith(("https://", "http://")):
            userinfo = f"{expected_issuer}/api/v1/userinfo"
        return cls(
            issuer=expected_issuer,
            userinfo_endpoint=userinfo,
            iss_parameter_supported=document.get("authorization_response_iss_parameter_supported") is True,
            **endpoints,
        )


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_at: float
    scope: str
    refresh_token: str | None
    id_token: str | None


@dataclass(frozen=True)
class ResourceAnswer:
    """What the resource API said to one call."""

    status: int
    body: Any
    retry_after: int | None
    error: str  # the DPoP/Bearer error of WWW-Authenticate, or the body's "error"


class ClientAssertion(PrivateKeyJWT):
    """private_key_jwt as the portal wants it: ES256 with our kid, ``aud`` = the issuer, short-lived.

    authlib's default lifetime is an hour; the contract allows five minutes.
    """

    alg = "ES256"

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            alg=self.alg,
            header={"kid": KEY_ID},  # a fresh dict each time: authlib writes alg into it
            expires_in=ASSERTION_SECONDS,
        )


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value.isdigit():
        return None  # an HTTP date, or nothing: the caller picks its own pause
    return min(int(value), MAX_RETRY_AFTER_SECONDS)


def _www_authenticate_error(response: httpx.Response) -> str:
    header = response.headers.get("WWW-Authenticate", "")
    marker = 'error="'
    if marker not in header:
        return ""
    return header.split(marker, 1)[1].split('"', 1)[0]


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


class PortalClient:
    """One per process: it remembers the portal's metadata, keys and DPoP nonces for a while."""

    def __init__(
        self,
        settings: Settings,
        key: ECKey,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.key = key
        self.transport = transport
        self.dpop_nonces: dict[str, str] = {}
        self._metadata: tuple[float, PortalMetadata] | None = None
        self._jwks: tuple[float, KeySet] | None = None

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.settings.http_timeout, transport=self.transport)

    def _oauth(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.settings.client_id,
            client_secret=self.key,
            # aud of the assertion: the issuer, as the contract says (not the endpoint's own URL).
            token_endpoint_auth_method=ClientAssertion(self.settings.portal_url),
            redirect_uri=self.settings.redirect_uri,
            timeout=self.settings.http_timeout,
            transport=self.transport,
        )

    async def metadata(self) -> PortalMetadata:
        if self._metadata and time.monotonic() - self._metadata[0] < METADATA_SECONDS:
            return self._metadata[1]
        url = f"{self.settings.portal_url}/.well-known/openid-configuration"
        try:
            async with self._http() as http:
                response = await http.get(url, headers={"Accept": "application/json"})
        except httpx.TransportError as error:
            raise BankProblem("portal_unreachable") from error
        if response.status_code != 200:
            raise BankProblem("portal_metadata_invalid", f"HTTP {response.status_code}")
        metadata = PortalMetadata.parse(_json_or_none(response), expected_issuer=self.settings.portal_url)
        self._metadata = (time.monotonic(), metadata)
        return metadata

    async def portal_keys(self, *, refresh: bool = False) -> KeySet:
        if self._jwks and not refresh and time.monotonic() - self._jwks[0] < METADATA_SECONDS:
            return self._jwks[1]
        metadata = await self.metadata()
        try:
            async with self._http() as http:
                response = await http.get(metadata.jwks_uri, headers={"Accept": "application/json"})
            keys = KeySet.import_key_set(response.json()) if response.status_code == 200 else None
        except httpx.TransportError as error:
            raise BankProblem("portal_unreachable") from error
        except (ValueError, TypeError, KeyError, JoseError):
            keys = None
        if keys is None:
            raise BankProblem("portal_metadata_invalid", "jwks_uri")
        self._jwks = (time.monotonic(), keys)
        return keys

    async def _decode(self, token: str) -> dict[str, Any]:
        """The claims of a JWT signed by the portal; raises JoseError when it is not."""
        keys = await self.portal_keys()
        try:
            return jwt.decode(token, keys, algorithms=SIGNING_ALGS).claims
        except DecodeError:
            raise
        except JoseError:
            # Perhaps the portal rotated its key since we read the JWKS: read it once more.
            if self._jwks and time.monotonic() - self._jwks[0] < JWKS_REFRESH_MIN_SECONDS:
                raise
            keys = await self.portal_keys(refresh=True)
            return jwt.decode(token, keys, algorithms=SIGNING_ALGS).claims

    async def push_authorization(self, params: dict[str, str]) -> str:
        """RFC 9126: pushes the authorization request; returns the browser's URL at the portal."""
        metadata = await self.metadata()
        async with self._oauth() as oauth:
            client_auth = oauth.client_auth(oauth.token_endpoint_auth_method)
            try:
                response = await oauth.post(
                    metadata.pushed_authorization_request_endpoint,
                    data={"client_id": self.settings.client_id, **params},
                    headers={"Accept": "application/json"},
                    auth=client_auth,
                )
            except httpx.TransportError as error:
                raise BankProblem("portal_unreachable") from error
        body = _json_or_none(response)
        request_uri = body.get("request_uri") if isinstance(body, dict) else None
        if response.status_code not in (200, 201) or not isinstance(request_uri, str):
            raise BankProblem("par_refused", _oauth_error_text(response.status_code, body))
        query = urlencode({"client_id": self.settings.client_id, "request_uri": request_uri})
        return f"{metadata.authorization_endpoint}?{query}"

    async def exchange_code(self, *, code: str, code_verifier: str, dpop_key: ECKey) -> Tokens:
        metadata = await self.metadata()
        async with self._oauth() as oauth:
            auth = DPoPAuth(
                dpop_key,
                client_auth=oauth.client_auth(oauth.token_endpoint_auth_method),
                nonces=self.dpop_nonces,
            )
            token = await self._token_call(
                oauth.fetch_token(
                    metadata.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    redirect_uri=self.settings.redirect_uri,
                    code_verifier=code_verifier,
                    client_id=self.settings.client_id,
                    auth=auth,
                )
            )
        return _tokens(token)

    async def refresh(self, *, refresh_token: str, dpop_key: ECKey) -> Tokens:
        """A new access token for the same consent; the portal refuses it once the consent ended."""
        metadata = await self.metadata()
        async with self._oauth() as oauth:
            auth = DPoPAuth(
                dpop_key,
                client_auth=oauth.client_auth(oauth.token_endpoint_auth_method),
                nonces=self.dpop_nonces,
            )
            token = await self._token_call(
                oauth.refresh_token(metadata.token_endpoint, refresh_token=refresh_token, auth=auth)
            )
        return _tokens(token, refresh_token=refresh_token)

    @staticmethod
    async def _token_call(call: Any) -> dict[str, Any]:
        try:
            return dict(await call)
        except OAuthError as error:
            raise BankProblem("token_refused", f"{error.error}: {error.description or ''}".strip()) from error
        except httpx.HTTPStatusError as error:
            raise BankProblem("token_refused", f"HTTP {error.response.status_code}") from error
        except httpx.TransportError as error:
            raise BankProblem("portal_unreachable") from error
        except ValueError as error:  # a 2xx answer that is not a JSON object
            raise BankProblem("token_refused", "not a token response") from error

    async def verify_id_token(self, id_token: str, *, nonce: str, access_token: str) -> dict[str, Any]:
        """OpenID Connect Core 3.1.3.7: signature, iss, aud (and azp), exp, iat, nonce, at_hash."""
        try:
            claims = await self._decode(id_token)
            JWTClaimsRegistry(
                leeway=CLOCK_LEEWAY_SECONDS,
                iss={"essential": True, "value": self.settings.portal_url},
                aud={"essential": True, "value": self.settings.client_id},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(claims)
        except JoseError as error:
            raise BankProblem("id_token_invalid", type(error).__name__) from error
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.settings.client_id:
            raise BankProblem("id_token_invalid", "azp")
        if "at_hash" in claims and claims["at_hash"] != _at_hash(access_token):
            raise BankProblem("id_token_invalid", "at_hash")
        return claims

    async def resource_get(self, url: str, *, access_token: str, dpop_key: ECKey) -> ResourceAnswer:
        auth = DPoPAuth(dpop_key, access_token=access_token, nonces=self.dpop_nonces)
        try:
            async with self._http() as http:
                response = await http.get(url, headers={"Accept": "application/json"}, auth=auth)
        except httpx.TransportError as error:
            raise BankProblem("portal_unreachable") from error
        body = _json_or_none(response)
        error = _www_authenticate_error(response)
        if not error and isinstance(body, dict) and isinstance(body.get("error"), str):
            error = body["error"]
        return ResourceAnswer(response.status_code, body, _retry_after(response), error)

    async def consent_event_verify(self, token: str) -> dict[str, Any]:
        """The claims of a consent-ended notice (contract: "When a consent ends")."""
        try:
            claims = await self._decode(token)
            JWTClaimsRegistry(
                leeway=CLOCK_LEEWAY_SECONDS,
                iss={"value": self.settings.portal_url},  # checked when present
                aud={"essential": True, "value": self.settings.client_id},
                event={"essential": True, "value": "consent.ended"},
                consent={"essential": True},
                sub={"essential": True},
                reason={"essential": True, "values": CONSENT_END_REASONS},
                ended_at={"essential": True},
            ).validate(claims)
        except JoseError as error:
            raise ConsentEventInvalid(type(error).__name__) from error
        if not isinstance(claims["consent"], str) or not isinstance(claims["sub"], str):
            raise ConsentEventInvalid("consent and sub must be strings")
        if not isinstance(claims["ended_at"], str | int):
            raise ConsentEventInvalid("ended_at")
        return claims


def _oauth_error_text(status: int, body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        description = body.get("error_description")
        return f"{body['error']}: {description}" if isinstance(description, str) else body["error"]
    return f"HTTP {status}"


def _tokens(token: dict[str, Any], *, refresh_token: str | None = None) -> Tokens:
    access_token = token.get("access_token")
    # RFC 9449 section 5: a client that sent a proof must check that it got a DPoP-bound token.
    if not isinstance(access_token, str) or str(token.get("token_type", "")).lower() != "dpop":
        raise BankProblem("token_refused", f"token_type {token.get('token_type')!r}")
    expires_in = token.get("expires_in")
    lifetime = expires_in if isinstance(expires_in, int) and expires_in > 0 else 600
    new_refresh = token.get("refresh_token")
    return Tokens(
        access_token=access_token,
        expires_at=time.time() + lifetime,
        scope=str(token.get("scope", "")),
        refresh_token=new_refresh if isinstance(new_refresh, str) else refresh_token,
        id_token=token.get("id_token") if isinstance(token.get("id_token"), str) else None,
    )
