"""The OpenAPI description of the agency API's authentication (drf-spectacular extension)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AgencyClientAssertionScheme(OpenApiAuthenticationExtension):
    target_class = "notices.api.auth.AgencyClientAuthentication"
    name = "agencyClientAssertion"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "A client assertion signed (ES256 or RS256) by a key of the JWKS registered for your client: "
                "iss = sub = your client id, aud = the agency API's URL (…/api/agency/v1), exp at most 300 s "
                "after iat, and a jti used once. Make a new one for every request."
            ),
        }
