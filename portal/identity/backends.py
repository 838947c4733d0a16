"""The session's user, loaded with their user folder in one query (every resident page needs both)."""

from django.contrib.auth.backends import ModelBackend

from portal.core.rows import Columns, FixedRead, related_cache
from portal.identity.models import Resident, User

_USER = Columns(User, "u")
# Every column: the dashboard, the hottest page, shows the My Number masked, and a deferred column would
# cost it a query.
_RESIDENT = Columns(Resident, "r")
# Read on every request with a session: fixed SQL (portal/core/rows.py), not a query compiled each time.
_USER_READ = FixedRead(
    (_USER, _RESIDENT),
    lambda: f"FROM {_USER.table} LEFT JOIN {_RESIDENT.table} ON r.user_id = u.id WHERE u.id = %s",
)


class PortalBackend(ModelBackend):
    def get_user(self, user_id):
        try:
            row = _USER_READ.one([int(user_id)])
        except (TypeError, ValueError):
            return None
        if row is None:
            return None
        user, resident = row
        related_cache(user, "resident", resident)
        if resident is not None:
            related_cache(resident, "user", user)
        return user if self.user_can_authenticate(user) else None
