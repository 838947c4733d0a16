from django.apps import AppConfig


class FirmsConfig(AppConfig):
    name = "portal.firms"
    label = "firms"
    verbose_name = "Firms (consent API clients)"
