from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class NotifyConfig(AppConfig):
    name = "portal.notify"
    label = "notify"
    verbose_name = "Notifications"

    def ready(self) -> None:
        checks.register(vapid_key_check, checks.Tags.security, deploy=True)


def vapid_key_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Production never makes a VAPID key (browsers subscribed with the old one would all be lost)."""
    if settings.PRODUCTION and not Path(settings.VAPID_PRIVATE_KEY_FILE).is_file():
        return [
            checks.Error(
                f"The VAPID key {settings.VAPID_PRIVATE_KEY_FILE} is missing.",
                hint="Set VAPID_PRIVATE_KEY_FILE to the portal's P-256 private key (PEM).",
                id="notify.E001",
            )
        ]
    return []
