"""schemathesis against the OpenAPI schema of /api/v1/: no server error, no answer outside the schema.

Cases are generated from the schema (valid and invalid categories, headers, query strings); each is sent
through the portal's WSGI application, once with the firm's real DPoP-bound token and a fresh proof, so
that the generated requests reach past authentication, and once as the schema made it.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.firms.models import AccessKind
from tests.consents.conftest import consent_and_code, firm_make
from tests.consents.test_flow import hold_income

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application()).include(
    path_regex="^/api/v1/"
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def _connections_kept():
    """The WSGI handler closes the database connection after each request; the test's transaction must
    survive, as Django's own test client arranges. Set up after the fixtures that use the test client,
    which connects the handler again after each of its requests."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def firm_token(client, trusted_jpki, hanako):
    agent = firm_make(
        scopes=("name", "birth_date", "sex", "address", "income_tax", "pension"),
        access_kind=AccessKind.PERIODIC,
        interval_days=1,
        access_days=30,
    )
    hold_income(hanako)
    code = consent_and_code(client, trusted_jpki, agent, scope="openid name sex address income_tax")
    token = agent.exchange(Client(), code).json()["access_token"]
    return agent, token


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_v1_answers_within_its_schema(case, firm_token, _connections_kept):
    agent, token = firm_token
    as_generated = case.call()
    case.validate_response(as_generated, checks=CHECKS)
    case.headers = {**(case.headers or {}), "Authorization": f"DPoP {token}"}
    case.headers["DPoP"] = agent.dpop(case.method.upper(), case.formatted_path, token=token)
    authorised = case.call()
    case.validate_response(authorised, checks=CHECKS)
