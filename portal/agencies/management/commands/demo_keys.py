"""Makes the portal's client-assertion key for the agencies, once, and publishes its public JWKS."""

import json
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from joserfc.jwk import ECKey


class Command(BaseCommand):
    help = "Create the agency client-assertion key (if missing) and write its public JWKS."

    def handle(self, *args, **options) -> None:
        key_path = Path(settings.AGENCY_CLIENT_KEY_FILE)
        jwks_path = Path(settings.AGENCY_CLIENT_JWKS_FILE)
        key_path.parent.mkdir(parents=True, exist_ok=True)
        if key_path.exists():
            key = ECKey.import_key(key_path.read_bytes())
        else:
            key = ECKey.generate_key("P-256", private=True)
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(key.as_pem(private=True))
        public = key.as_dict(private=False)
        public.update(kid=key.thumbprint(), use="sig", alg="ES256")
        jwks_path.write_text(json.dumps({"keys": [public]}, indent=2))
        self.stdout.write(f"agency client key ready (kid {public['kid']})")
