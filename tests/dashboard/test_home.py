"""The dashboard: the resident's name, the masked number and a working link for every feature, recorded."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from portal.dashboard.views import MENU
from portal.history.models import ReleaseRecord
from tests.factories import ResidentFactory

pytestmark = pytest.mark.django_db


def test_every_menu_entry_links_to_its_page_and_the_view_is_recorded():
    resident = ResidentFactory()
    client = Client()
    client.force_login(resident.user, backend="portal.identity.backends.PortalBackend")
    html = client.get("/").content.decode()
    assert resident.name in html and resident.my_number_masked in html
    for entry in MENU:
        (href,) = re.findall(rf'id="menu-{entry.key}">\s*<a class="menu__label" href="([^"]+)"', html)
        assert href == reverse(entry.url_name)
        assert client.get(href).status_code in (200, 302)
    assert "menu__badge" not in html  # every feature has landed
    (record,) = ReleaseRecord.objects.filter(owner=resident, purpose="dashboard")
    assert record.category == "identity" and record.items == ["name", "my_number_last4"]


def test_a_visitor_is_sent_to_the_login_page():
    response = Client().get("/")
    assert response.status_code == 302 and reverse("identity:login") in response["Location"]
