"""The session's user: one fixed query with the user folder, everything the dashboard shows included."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.identity.backends import PortalBackend
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_resident_comes_with_the_folder_in_one_query():
    resident = ResidentFactory()
    with CaptureQueriesContext(connection) as queries:
        user = PortalBackend().get_user(str(resident.user_id))
        assert user.resident.name == resident.name
        assert user.resident.address == resident.address
        assert user.resident.user is user
        assert user.resident.my_number_masked.endswith(resident.my_number[-4:])
    assert len(queries.captured_queries) == 1
    assert not user.resident.get_deferred_fields() and not user.get_deferred_fields()


def test_a_user_without_a_folder_has_none():
    staff = UserFactory(is_staff=True)
    user = PortalBackend().get_user(staff.pk)
    assert user == staff
    assert not hasattr(user, "resident")


@pytest.mark.parametrize("user_id", [None, "x", "99999999"])
def test_unknown_or_malformed_ids_give_no_user(user_id):
    assert PortalBackend().get_user(user_id) is None


def test_an_inactive_user_gets_no_session():
    resident = ResidentFactory(user__is_active=False)
    assert PortalBackend().get_user(resident.user_id) is None
