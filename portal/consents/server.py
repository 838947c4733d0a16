"""The authorization server, built on authlib's grants: what authlib does, it does; the rest is ours.

authlib gives the authorization-code grant, PKCE (`CodeChallenge`), OpenID Connect ID tokens
(`OpenIDCode`), refresh tokens, `private_key_jwt` client authentication (RFC 7523), revocation (RFC 7009)
and introspection (RFC 7662). Pushed authorization requests (RFC 9126) and DPoP (RFC 9449) are not in
its released versions (SPEC 9): `views.pushed_authorization` and `dpop.py` do them, and these classes bind
tokens to the DPoP key the token request proved.

The "user" authlib passes around is the resident's `Consent`: every code and token belongs to one consent,
so that ending the consent ends them all.
"""

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.integrations.django_oauth2 import AuthorizationServer
from authlib.integrations.django_oauth2.requests import DjangoOAuth2Payload, DjangoOAuth2Request
from authlib.oauth2 import OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, InvalidClientError, InvalidGrantError, grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from joserfc.jwk import KeySet

from portal.consents import keys, selectors, services
from portal.consents.models import AuthorizationCode, Consent, IssuedToken
from portal.consents.scopes import SCOPES_SUPPORTED
from portal.core.rows import row_insert
from portal.firms.models import FirmClient

PRIVATE_KEY_JWT = "private_key_jwt"
# A client assertion may live this long at most (it is single-use anyway, by its jti).
ASSERTION_MAX_SECONDS = 5 * 60


class IssuerOAuth2Request(DjangoOAuth2Request):
    """A request as the issuer's URL names it, whatever Host header came in (authlib checks it is https)."""

    def __init__(self, request: Any) -> None:
        OAuth2Request.__init__(
            self,
            method=request.method,
            uri=settings.OIDC_ISSUER + request.get_full_path(),
            headers=request.headers,
        )
        self.payload = DjangoOAuth2Payload(request)
        self._request = request


class FirmOAuthClient(ClientMixin):
    """authlib's view of a firm's client: private_key_jwt only, the code and refresh grants, exact URIs."""

    def __init__(self, client: FirmClient) -> None:
        self.client = client

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # the request must name one of the registered URIs

    def get_allowed_scope(self, scope: str) -> str:
        if not scope:
            return ""
        allowed = services.client_scopes(self.client)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.client.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == PRIVATE_KEY_JWT

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


class PrivateKeyJWTAuthentication(JWTBearerClientAssertion):
    """RFC 7523 client authentication with a key of the firm's registered JWKS."""

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def get_audiences(self) -> list[str]:
        issuer = settings.OIDC_ISSUER
        return [issuer, f"{issuer}/oauth/token", f"{issuer}/oauth/par"]

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        digest = services.credential_hash(f"{claims['sub']}:{jti}", kind="assertion-jti")
        return cache.add(f"client-assertion-jti:{digest}", 1, ASSERTION_MAX_SECONDS + 120)

    def verify_claims(self, claims: Any) -> None:
        super().verify_claims(claims)
        if claims["exp"] - time.time() > ASSERTION_MAX_SECONDS + self.leeway:
            raise InvalidClientError(description="The client assertion lives too long (5 minutes at most).")

    def resolve_client_public_key(self, client: FirmOAuthClient) -> KeySet:
        try:
            return KeySet.import_key_set(client.client.jwks)
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidClientError(description="The client's registered keys cannot be read.") from exc


def _dpop_jkt(request: OAuth2Request) -> str:
    """The DPoP key the token request proved (views.token checked the proof before authlib runs)."""
    return request._request.dpop_proof.jkt


class S256Only(CodeChallenge):
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [PRIVATE_KEY_JWT]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> AuthorizationCode:
        consent: Consent = request.user
        data = request.payload.data
        return AuthorizationCode.objects.create(
            code_hash=services.credential_hash(code, kind="code"),
            client=request.client.client,
            consent=consent,
            redirect_uri=data["redirect_uri"],
            scope=request.scope,
            code_challenge=data["code_challenge"],
            code_challenge_method=data.get("code_challenge_method", "S256"),
            nonce=data.get("nonce", ""),
            dpop_jkt=data.get("dpop_jkt", ""),
            auth_time=datetime.fromtimestamp(request.auth_time, tz=UTC),
            expires_at=timezone.now() + timedelta(seconds=settings.CONSENT_CODE_SECONDS),
        )

    def query_authorization_code(self, code: str, client: FirmOAuthClient) -> AuthorizationCode | None:
        # What the grant reads next comes in this one query: the consent's firm and client (checked), its
        # resident (the pairwise sub).
        found = selectors.code_by_hash(
            services.credential_hash(code, kind="code"), client_pk=client.client.pk
        )
        if found is None:
            return None
        if not services.code_take(found):
            services.code_replayed(found)
            return None
        if found.expires_at <= timezone.now():
            return None
        if found.dpop_jkt and found.dpop_jkt != _dpop_jkt(self.request):
            raise InvalidGrantError(
                description="The DPoP key is not the one named in the authorization request."
            )
        return found

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        pass  # marked used when it was taken

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Consent | None:
        consent = authorization_code.consent
        return consent if services.consent_usable(consent) else None


class ConsentOpenIDCode(OpenIDCode):
    """ID tokens: ES256 by the portal's key, `sub` pairwise per firm, no personal data in them."""

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return AuthorizationCode.objects.filter(
            client__client_id=request.payload.client_id, nonce=nonce
        ).exists()

    def resolve_client_private_key(self, client: FirmOAuthClient) -> Any:
        return keys.signing_key()

    def get_client_algorithm(self, client: FirmOAuthClient) -> str:
        return "ES256"

    def get_encode_header(self, client: FirmOAuthClient) -> dict[str, str]:
        return {"alg": "ES256", "kid": keys.signing_key().kid, "typ": "JWT"}

    def get_client_claims(self, client: FirmOAuthClient) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": settings.OIDC_ISSUER, "aud": [client.get_client_id()], "iat": now, "exp": now + 600}

    def generate_user_info(self, user: Consent, scope: str) -> UserInfo:
        # The basic items are released through /api/v1/userinfo, where the release is recorded first.
        return UserInfo(sub=services.pairwise_subject(user))


class ConsentRefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [PRIVATE_KEY_JWT]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotated: an old refresh token stops when a new one is issued

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        token = (
            IssuedToken.objects.select_related("consent__firm", "consent__client", "client")
            .filter(refresh_token_hash=services.credential_hash(refresh_token, kind="refresh"))
            .first()
        )
        if token is None or token.revoked_at is not None or not services.consent_usable(token.consent):
            return None
        if token.refresh_expires_at is None or token.refresh_expires_at <= timezone.now():
            return None
        if token.dpop_jkt != _dpop_jkt(self.request):
            raise InvalidGrantError(description="The refresh token is bound to another DPoP key.")
        return token

    def authenticate_user(self, refresh_token: IssuedToken) -> Consent:
        return refresh_token.consent

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        IssuedToken.objects.filter(pk=refresh_token.pk).update(revoked_at=timezone.now())


class ConsentRevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = [PRIVATE_KEY_JWT]

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return services.token_by_string(token_string)

    def revoke_token(self, token: IssuedToken, request: OAuth2Request) -> None:
        IssuedToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())


class ConsentIntrospectionEndpoint(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = [PRIVATE_KEY_JWT]

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return services.token_by_string(token_string)

    def check_permission(self, token: IssuedToken, client: FirmOAuthClient, request: OAuth2Request) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: IssuedToken) -> dict[str, Any]:
        active = (
            token.revoked_at is None and not token.is_expired() and services.consent_usable(token.consent)
        )
        if not active:
            return {"active": False}
        return {
            "active": True,
            "client_id": token.client.client_id,
            "token_type": "DPoP",
            "scope": token.scope,
            "sub": services.pairwise_subject(token.consent),
            "iss": settings.OIDC_ISSUER,
            "iat": int(token.issued_at.timestamp()),
            "exp": int(token.expires_at.timestamp()),
            "cnf": {"jkt": token.dpop_jkt},
        }


class ConsentAuthorizationServer(AuthorizationServer):
    def __init__(self) -> None:
        super().__init__(FirmClient, IssuedToken)
        self.scopes_supported = SCOPES_SUPPORTED
        self.register_token_generator("default", self._token_generate)
        self.register_client_auth_method(PRIVATE_KEY_JWT, PrivateKeyJWTAuthentication())
        self.register_grant(CodeGrant, [S256Only(required=True), ConsentOpenIDCode(require_nonce=True)])
        self.register_grant(ConsentRefreshGrant)
        self.register_endpoint(ConsentRevocationEndpoint)
        self.register_endpoint(ConsentIntrospectionEndpoint)

    def query_client(self, client_id: str) -> FirmOAuthClient | None:
        client = services.usable_client(client_id)
        return FirmOAuthClient(client) if client else None

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        # The authorization endpoint hands in the pushed request, already an OAuth2Request.
        if isinstance(request, OAuth2Request):
            return request
        return IssuerOAuth2Request(request)

    @staticmethod
    def _token_generate(
        grant_type: str,
        client: FirmOAuthClient,
        user: Consent | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        token = {
            "token_type": "DPoP",
            "access_token": secrets.token_urlsafe(32),
            "expires_in": settings.CONSENT_ACCESS_TOKEN_SECONDS,
            "scope": scope or "",
        }
        if include_refresh_token and user is not None and services.consent_refreshable(user):
            token["refresh_token"] = secrets.token_urlsafe(48)
        return token

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> IssuedToken:
        consent: Consent = request.user
        now = timezone.now()
        refresh = token.get("refresh_token")
        # One fixed INSERT: written on every exchange (views.token commits it with the code taken).
        return row_insert(
            IssuedToken(
                consent=consent,
                client=request.client.client,
                code=request.authorization_code,
                access_token_hash=services.credential_hash(token["access_token"], kind="access"),
                refresh_token_hash=services.credential_hash(refresh, kind="refresh") if refresh else None,
                scope=token["scope"],
                dpop_jkt=_dpop_jkt(request),
                issued_at=now,
                expires_at=now + timedelta(seconds=token["expires_in"]),
                refresh_expires_at=consent.expires_at if refresh else None,
            )
        )

    def handle_response(self, status_code: int, payload: Any, headers: Any) -> Any:
        response = super().handle_response(status_code, payload, headers)
        response["Cache-Control"] = "no-store"
        if status_code == 401 or (isinstance(payload, dict) and payload.get("error") == "invalid_client"):
            response.status_code = 401
        return response


server = ConsentAuthorizationServer()
