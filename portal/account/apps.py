from django.apps import AppConfig


class AccountConfig(AppConfig):
    name = "portal.account"
    label = "account"
    verbose_name = "Public-fund account"
