"""A resident's login starts a refresh of their information, so the categories arrive while they look.

Staff logins (no user folder) start nothing. Must never make a login fail: the refresh is queued after
commit and a broker that is down only leaves the categories to show as not fetched.
"""

import logging
from typing import Any

from django.http import HttpRequest

from portal.identity.models import Resident, User
from portal.myinfo.services import myinfo_refresh_start

logger = logging.getLogger(__name__)


def refresh_on_login(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    resident = Resident.objects.filter(user=user).first()
    if resident is None:
        return
    try:
        myinfo_refresh_start(resident=resident)
    except Exception:  # a refresh is a convenience; the login is what the person came for
        logger.exception("could not start the refresh of my information at login")
