"""Demo data for the portal: the agency key, a staff login, the demo firm the sample bank runs as
(portal.firms.demo, with its key pair), and (--residents N) synthetic residents.

The demo people themselves open their user folders at their first card login, as real residents do;
their cards and their agency records live in the simulators (demo/people.json).
"""

import random
import secrets
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from portal.core.crypto import lookup_hash
from portal.firms.demo import demo_firm_ensure
from portal.identity.models import Resident, User
from portal.identity.mynumber import my_number_check_digit

SURNAMES = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
]
GIVEN = [
    ("翔太", "ショウタ", "1"),
    ("大輝", "ダイキ", "1"),
    ("健一", "ケンイチ", "1"),
    ("美咲", "ミサキ", "2"),
    ("陽菜", "ヒナ", "2"),
    ("恵子", "ケイコ", "2"),
    ("蓮", "レン", "1"),
    ("結衣", "ユイ", "2"),
]
CITIES = [
    "東京都新宿区西新宿二丁目8番1号",
    "大阪府大阪市中央区大手前二丁目1番22号",
    "北海道札幌市中央区北1条西2丁目",
    "福岡県福岡市中央区天神一丁目8番1号",
    "宮城県仙台市青葉区国分町三丁目7番1号",
]
BATCH = 2000


class Command(BaseCommand):
    help = "Seed demo data: agency key, a staff login, the demo firm, and optionally N synthetic residents."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--residents", type=int, default=0, help="add this many synthetic residents")
        parser.add_argument("--seed", type=int, default=None, help="random seed for reproducible residents")

    def handle(self, *args, **options) -> None:
        call_command("demo_keys", stdout=self.stdout)
        self._staff()
        self._demo_firm()
        count = options["residents"]
        if count < 0:
            self.stderr.write("--residents must be 0 or more.")
            return
        if count:
            started = time.perf_counter()
            self._residents(count, random.Random(options["seed"]))  # noqa: S311 -- synthetic data, not secrets
            self.stdout.write(f"{count} synthetic residents in {time.perf_counter() - started:.1f} s")

    def _staff(self) -> None:
        if User.objects.filter(username="staff").exists():
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("staff", password)
        self.stdout.write(f"staff login for /staff/admin/: staff / {password} (shown once)")

    def _demo_firm(self) -> None:
        firm, token = demo_firm_ensure(staff=User.objects.get(username="staff"))
        if token:
            link = f"{settings.PORTAL_PUBLIC_URL}/developers/{firm.public_id}/?token={token}"
            self.stdout.write(f"demo firm {firm.legal_name} ready; its page (shown once): {link}")
        else:
            self.stdout.write(f"demo firm {firm.legal_name} ready")

    def _residents(self, count: int, rng: random.Random) -> None:
        for start in range(0, count, BATCH):
            size = min(BATCH, count - start)
            with transaction.atomic():
                # "!" is Django's mark for an unusable password: synthetic residents log in by card only.
                unusable = "!"
                users = User.objects.bulk_create(
                    [
                        User(username=f"synthetic-{secrets.token_hex(8)}", password=unusable)
                        for _ in range(size)
                    ]
                )
                Resident.objects.bulk_create(
                    [self._synthetic(user, rng) for user in users], batch_size=BATCH, ignore_conflicts=False
                )

    @staticmethod
    def _synthetic(user: User, rng: random.Random) -> Resident:
        first_eleven = f"{rng.randrange(10**10, 10**11):011d}"
        number = first_eleven + str(my_number_check_digit(first_eleven))
        surname, surname_kana = rng.choice(SURNAMES)
        given, given_kana, sex = rng.choice(GIVEN)
        return Resident(
            user=user,
            name=f"{surname} {given}",
            name_kana=f"{surname_kana} {given_kana}",
            birth_date=f"{rng.randint(1940, 2010)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            sex=sex,
            address=rng.choice(CITIES),
            my_number=number,
            my_number_hash=lookup_hash(number, purpose="my-number"),
        )
