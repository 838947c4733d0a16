from django.apps import AppConfig


class ProvisionConfig(AppConfig):
    name = "portal.provision"
    label = "provision"
    verbose_name = "Information-provision records"
