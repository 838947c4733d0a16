"""Indexes every resident's code at every agency (missing rows only), so notices find their recipients."""

from django.core.management.base import BaseCommand

from notices.services import agency_codes_fill


class Command(BaseCommand):
    help = "Index residents by their agency-specific codes (only the rows that are missing)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--agency", action="append", help="only this agency (repeatable)")

    def handle(self, *args, **options) -> None:
        added = agency_codes_fill(agency_ids=options["agency"])
        self.stdout.write(f"{added} codes indexed")
