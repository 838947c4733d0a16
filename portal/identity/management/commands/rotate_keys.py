"""Re-encrypts every encrypted field with the current key (the first in FIELD_ENCRYPTION_KEYS).

Rotation: put a new key first (`rotate_keys --new-key` prints one), keep the old one after it, run this
command, then remove the old key once it reports nothing left under it.
"""

from collections import Counter

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import TextField
from django.db.models.functions import Cast

from portal.core.crypto import FieldCipher, field_cipher, new_field_key
from portal.core.fields import EncryptedTextField

BATCH = 1000


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields under the current key; --new-key prints a fresh key."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--new-key", action="store_true", help="print a new key entry and exit")

    def handle(self, *args, **options) -> None:
        if options["new_key"]:
            self.stdout.write(f"k{new_field_key()[:6].lower()}:{new_field_key()}")
            return
        cipher = field_cipher()
        totals: Counter[str] = Counter()
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            for field in fields:
                totals[f"{model._meta.label}.{field.name}"] = self._rotate(model, field, cipher)
        for name, count in sorted(totals.items()):
            self.stdout.write(f"{name}: {count} re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"all values now under key {cipher.current_kid}"))

    def _rotate(self, model, field, cipher) -> int:
        # Cast to plain text reads the stored token without decrypting it, so current rows are skipped.
        raw_rows = (
            model._default_manager.exclude(**{f"{field.attname}__isnull": True})
            .annotate(_raw=Cast(field.attname, TextField()))
            .values_list("pk", "_raw")
        )
        stale = [pk for pk, raw in raw_rows.iterator() if FieldCipher.key_id_of(raw) != cipher.current_kid]
        for start in range(0, len(stale), BATCH):
            with transaction.atomic():
                for obj in model._default_manager.select_for_update().filter(
                    pk__in=stale[start : start + BATCH]
                ):
                    obj.save(update_fields=[field.attname])
        return len(stale)
