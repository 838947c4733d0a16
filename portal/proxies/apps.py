from django.apps import AppConfig


class ProxiesConfig(AppConfig):
    name = "portal.proxies"
    label = "proxies"
    verbose_name = "Proxies and guardians"

    def ready(self) -> None:
        from portal.identity.signals import card_revoked
        from portal.proxies.signals import hold_proxies_of_revoked_cards

        card_revoked.connect(hold_proxies_of_revoked_cards, dispatch_uid="proxies-hold-on-revocation")
