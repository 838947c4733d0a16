"""verify_history: checks every resident's hash chain and every published daily root; exit 1 on any fault.

Read-only. Thin: the checks live in portal.history.verification and portal.history.roots.
"""

import datetime as dt
import time
import uuid

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.history import roots, verification
from portal.history.models import DailyRoot
from portal.identity.models import Resident


class Command(BaseCommand):
    help = "Checks the access history: every chain link by link, and every published daily root."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--resident", metavar="PUBLIC_ID", help="check this resident's chain only")
        parser.add_argument(
            "--roots-since",
            metavar="YYYY-MM-DD",
            type=dt.date.fromisoformat,
            help="recompute only the daily roots from this day on (each one reads every chain's end)",
        )

    def handle(self, *args: object, **options: object) -> None:
        owner = self._resident(options["resident"]) if options["resident"] else None
        report = verification.ChainsReport()
        broken = bad_roots = checked_roots = 0
        started = time.monotonic()
        with verification.snapshot():
            for chain in verification.chains_verify(owner=owner, report=report):
                broken += 1
                self.stdout.write(
                    f"resident {chain.owner_public_id}: first broken link at seq {chain.first_broken_seq}"
                )
            chains_done = time.monotonic()
            # A root covers every chain at once, so only a full run can check one.
            if owner is None:
                published = DailyRoot.objects.order_by("day")
                if options["roots_since"]:
                    published = published.filter(day__gte=options["roots_since"])
                for root in published.iterator():
                    checked_roots += 1
                    for problem in roots.daily_root_problems(root):
                        bad_roots += 1
                        self.stdout.write(f"root of {root.day.isoformat()}: {problem}")
        finished = time.monotonic()
        summary = (
            f"checked {report.chains} chains ({report.records} records) in {chains_done - started:.1f} s "
            f"and {checked_roots} daily roots in {finished - chains_done:.1f} s"
        )
        if broken or bad_roots:
            raise CommandError(
                f"{summary}: {broken} broken chains, {bad_roots} problems with daily roots", returncode=1
            )
        self.stdout.write(f"{summary}: all intact")

    def _resident(self, raw: object) -> Resident:
        try:
            public_id = uuid.UUID(str(raw))
        except ValueError as exc:
            raise CommandError(f"{raw} is not a resident's public id", returncode=2) from exc
        resident = Resident.objects.filter(public_id=public_id).first()
        if resident is None:
            raise CommandError(f"no resident {public_id}", returncode=2)
        return resident
