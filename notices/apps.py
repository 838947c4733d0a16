from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "notices"
    verbose_name = "お知らせ (notices)"

    def ready(self) -> None:
        from notices import signals  # noqa: F401  (resident codes filled at registration)
        from notices.api import schema  # noqa: F401  (the OpenAPI description of the agency assertion)
