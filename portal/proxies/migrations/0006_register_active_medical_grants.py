"""Grants with the medical scope that were active before the medical insurer knew registered proxies get
their registration now; the beat's sweep (proxies.resend_insurer_registrations) sends them."""

from django.db import migrations

MEDICAL_SCOPE = "medical"


def _insurer_id() -> str:
    from portal.agencies.codes import agency_registry

    return next(a.id for a in agency_registry().values() if "medical_drugs" in a.categories)


def open_registrations(apps, schema_editor):
    ProxyGrant = apps.get_model("proxies", "ProxyGrant")
    InsurerRegistration = apps.get_model("proxies", "InsurerRegistration")
    grants = ProxyGrant.objects.filter(state="active", insurer_registration__isnull=True)
    wanted = [grant for grant in grants.iterator() if MEDICAL_SCOPE in grant.scopes]
    if wanted:
        agency_id = _insurer_id()
        InsurerRegistration.objects.bulk_create(
            [InsurerRegistration(grant=grant, agency_id=agency_id) for grant in wanted], batch_size=500
        )


class Migration(migrations.Migration):
    dependencies = [("proxies", "0005_insurer_registration")]

    operations = [migrations.RunPython(open_registrations, migrations.RunPython.noop)]
