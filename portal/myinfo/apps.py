from django.apps import AppConfig


class MyinfoConfig(AppConfig):
    name = "portal.myinfo"
    label = "myinfo"
    verbose_name = "My information"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from portal.myinfo.signals import refresh_on_login

        user_logged_in.connect(refresh_on_login, dispatch_uid="myinfo-refresh-on-login")
