from django.apps import AppConfig


class ConsentsConfig(AppConfig):
    name = "portal.consents"
    label = "consents"
    verbose_name = "Consents and the authorization server"

    def ready(self) -> None:
        from portal.consents.signals import consents_end_on_controller_change
        from portal.firms.signals import controller_changed

        controller_changed.connect(
            consents_end_on_controller_change, dispatch_uid="consents-controller-change"
        )
