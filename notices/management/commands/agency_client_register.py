"""Registers (or updates) an agency's API client from files, for scripts and the demo; staff use the admin.

The webhook secret is read from a file, never from the command line (where process lists would show it).
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from notices.admin import AgencyClientForm
from notices.models import AgencyClient


class Command(BaseCommand):
    help = "Register or update an agency API client (public JWKS, webhook URL and secret)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--agency", required=True, help="agency id in the agency registry")
        parser.add_argument("--name", required=True)
        parser.add_argument("--jwks-file", required=True, help="the client's public JWKS (JSON)")
        parser.add_argument("--webhook-url", default="")
        parser.add_argument("--webhook-secret-file", help="a file holding the webhook secret")
        parser.add_argument("--inactive", action="store_true")

    def handle(self, *args, **options) -> None:
        secret = ""
        if options["webhook_secret_file"]:
            secret = Path(options["webhook_secret_file"]).read_text().strip()
        instance = AgencyClient.objects.filter(client_id=options["client_id"]).first()
        form = AgencyClientForm(
            data={
                "client_id": options["client_id"],
                "agency_id": options["agency"],
                "name": options["name"],
                "jwks": json.dumps(json.loads(Path(options["jwks_file"]).read_text())),
                "webhook_url": options["webhook_url"],
                "webhook_secret": secret,
                "active": not options["inactive"],
            },
            instance=instance,
        )
        if not form.is_valid():
            raise CommandError(f"not registered: {form.errors.as_json()}")
        client = form.save()
        self.stdout.write(f"agency client {client.client_id} {'updated' if instance else 'registered'}")
