from django.apps import AppConfig


class ProxiesConfig(AppConfig):
    name = "portal.proxies"
    label = "proxies"
    verbose_name = "Proxies and guardians"
