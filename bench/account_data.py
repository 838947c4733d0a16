"""Public-fund accounts for the issue-6 benchmarks: residents of the benchmarks' own, verified accounts
written in bulk, and the fetch queue the bank checks wait on.

Import after bench_environment(). Writes only to the bench database and the bench broker, and only to rows
and queues that belong to these benchmarks; never to other residents.
"""

import datetime as dt
import random

from django.utils import timezone

from bench.residents import Identity, residents_ensure
from notices.services import agency_codes_fill
from portal.account import services
from portal.account.models import AccountType, PublicFundAccount, ReviewState
from portal.celery import QUEUE_FETCH
from portal.celery import app as celery_app
from portal.identity.management.commands.seed_demo import GIVEN, SURNAMES
from portal.identity.models import Resident

PREFIX = "bench-account-"
# The banks.py data knows this bank and branch: みずほ 東京営業部.
BANK, BRANCH = "0001", "001"
# Account numbers: lookup residents from 2000000, register residents from 3000000, so that no two bench
# residents ever share an account (a shared one would be flagged for review and refused to agencies).
LOOKUP_NUMBERS, REGISTER_NUMBERS = 2_000_000, 3_000_000
TOWN = "ベンチ県口座市"


def _identity(_username: str, rng: random.Random) -> Identity:
    surname, surname_kana = rng.choice(SURNAMES)
    given, given_kana, sex = rng.choice(GIVEN)
    return {
        "name": f"{surname} {given}",
        "name_kana": f"{surname_kana} {given_kana}",
        "birth_date": dt.date(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28)),
        "sex": sex,
        "address": f"{TOWN}一丁目{rng.randint(1, 30)}番地",
    }


def account_residents(kind: str, count: int, *, bench: str) -> list[Resident]:
    """`count` residents of this benchmark's own (bench-account-<kind>-00000, …), made once, in bulk.

    Their kana names are seed_demo's (サトウ ショウタ, …), so the holder-name check has real work to do.
    """
    usernames = (f"{PREFIX}{kind}-{index:05d}" for index in range(count))
    residents = residents_ensure(usernames, _identity, bench=bench)
    return sorted(residents.values(), key=lambda resident: resident.user.username)


def account_details(resident: Resident, number: int) -> services.AccountDetails:
    """The account as the portal checks it, the resident's own kana as the holder."""
    return services.account_details_check(
        resident=resident,
        bank_code=BANK,
        branch_code=BRANCH,
        account_type=AccountType.ORDINARY,
        number=f"{number:07d}",
        holder_kana=resident.name_kana,
    )


def verified_accounts(residents: list[Resident]) -> int:
    """A verified, unflagged account for each resident, as the bank's match leaves it; returns how many
    were written (later runs reuse them)."""
    have = set(PublicFundAccount.objects.filter(resident__in=residents).values_list("resident_id", flat=True))
    now = timezone.now()
    rows = []
    for index, resident in enumerate(residents):
        if resident.pk in have:
            continue
        details = account_details(resident, LOOKUP_NUMBERS + index)
        rows.append(
            PublicFundAccount(
                resident=resident,
                bank_code=details.bank_code,
                branch_code=details.branch_code,
                account_type=details.account_type,
                number=details.number,
                number_hash=services.number_hash(details),
                holder_kana=details.holder_kana,
                verified_at=now,
                registered_at=now,
                updated_at=now,
                review_state=ReviewState.NONE,
            )
        )
    PublicFundAccount.objects.bulk_create(rows, batch_size=1000)
    # An account under review is refused to agencies (409): every one must be usable.
    PublicFundAccount.objects.filter(resident__in=residents).exclude(review_state=ReviewState.NONE).update(
        review_state=ReviewState.NONE, flagged_at=None
    )
    return len(rows)


def agency_codes_indexed(residents: list[Resident], agency_id: str) -> int:
    """The agency's codes for these residents in the index the API looks them up by (missing rows only)."""
    return agency_codes_fill(
        residents=Resident.objects.filter(pk__in=[r.pk for r in residents]), agency_ids=[agency_id]
    )


def fetch_queue_length() -> int:
    """Messages waiting on the fetch queue of the bench broker (the bank checks go there)."""
    with celery_app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue=QUEUE_FETCH).message_count
