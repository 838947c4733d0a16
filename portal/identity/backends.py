"""The session's user, loaded with their user folder in one query (every resident page needs both)."""

from django.contrib.auth.backends import ModelBackend

from portal.identity.models import User


class PortalBackend(ModelBackend):
    def get_user(self, user_id):
        user = User._default_manager.select_related("resident").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
