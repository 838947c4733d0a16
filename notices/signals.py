"""A new user folder is indexed by its code at every agency at once, so agencies' notices can reach it."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from portal.identity.models import Resident


@receiver(post_save, sender=Resident, dispatch_uid="notices.resident_codes")
def resident_codes_on_registration(
    sender: type[Resident], instance: Resident, created: bool, **kwargs: Any
) -> None:
    if not created or kwargs.get("raw"):
        return
    from notices.services import agency_codes_fill

    resident_id = instance.pk
    transaction.on_commit(
        lambda: agency_codes_fill(residents=Resident.objects.filter(pk=resident_id)), robust=True
    )
