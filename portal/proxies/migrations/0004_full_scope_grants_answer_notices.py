"""Parents and adult guardians act with full scope; answering notices joined the scopes after some of
their grants were made, so those grants gain it. Voluntary grants keep exactly what the principal signed."""

from django.db import migrations

ANSWER = "notices_answer"
FULL_SCOPE_KINDS = ("parent", "guardian")


def add_answer_scope(apps, schema_editor):
    ProxyGrant = apps.get_model("proxies", "ProxyGrant")
    for grant in ProxyGrant.objects.filter(kind__in=FULL_SCOPE_KINDS).exclude(state="ended"):
        if ANSWER not in grant.scopes:
            grant.scopes = sorted([*grant.scopes, ANSWER])
            grant.save(update_fields=["scopes"])


def remove_answer_scope(apps, schema_editor):
    ProxyGrant = apps.get_model("proxies", "ProxyGrant")
    for grant in ProxyGrant.objects.filter(kind__in=FULL_SCOPE_KINDS):
        if ANSWER in grant.scopes:
            grant.scopes = [s for s in grant.scopes if s != ANSWER]
            grant.save(update_fields=["scopes"])


class Migration(migrations.Migration):
    dependencies = [("proxies", "0003_guardian_applications")]

    operations = [migrations.RunPython(add_answer_scope, remove_answer_scope)]
