"""Model fields whose values are stored encrypted (AES-GCM, see portal.core.crypto)."""

from typing import Any

from django.db import models

from portal.core.crypto import field_cipher


class EncryptedTextField(models.TextField):
    """Text stored as an AES-GCM token; the model and field name are the associated data.

    Encrypted values cannot be filtered on: search through a keyed-hash column beside them.
    """

    def contribute_to_class(self, cls: type[models.Model], name: str, *args: Any, **kwargs: Any) -> None:
        super().contribute_to_class(cls, name, *args, **kwargs)
        self.encryption_context = f"{cls._meta.app_label}.{cls.__name__}.{name}"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None:
            return None
        return field_cipher().decrypt(value, context=self.encryption_context)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return field_cipher().encrypt(str(value), context=self.encryption_context)

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            # Random nonces make equal plaintexts differ: a lookup could only ever be wrong.
            raise TypeError("Encrypted fields cannot be searched; use their keyed-hash column.")
        return super().get_lookup(lookup_name)
