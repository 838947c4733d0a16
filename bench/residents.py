"""Residents of a benchmark's own and their cached agency data: the seeding the benchmarks share.

Import after bench_environment(). Writes only to the bench database, and only the users, residents and cache
entries of the usernames a benchmark names; never another resident's.
"""

import datetime as dt
import json
import random
import sys
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.core.crypto import lookup_hash
from portal.identity.models import Resident, User
from portal.identity.mynumber import my_number_check_digit
from portal.myinfo.models import CategoryEntry, EntryState
from portal.myinfo.payload import data_validate
from portal.myinfo.services import agency_for_category
from simulators.agency.categories import GENERATORS, AgencyWorld
from simulators.agency.config import Settings as SimulatorSettings
from simulators.agency.seed import JST, _as_seen_by, load_people

# A batch that draws a My Number twice is drawn again, up to this many times.
ATTEMPTS = 5

# What a resident is besides their user and My Number: name, name_kana, birth_date, sex and address.
Identity = dict[str, Any]


def residents_ensure(
    usernames: Iterable[str], identity: Callable[[str, random.Random], Identity], *, bench: str
) -> dict[str, Resident]:
    """The residents of these usernames by username, made once, in bulk: each missing one (and its user,
    if missing too) gets `identity(username, rng)` and a random My Number of its own, never a demo
    resident's. My Numbers drawn twice (the bench database holds up to 1,000,000 residents) refuse the
    whole batch, which is then drawn again."""
    wanted = list(usernames)
    for attempt in range(ATTEMPTS):
        have = set(
            Resident.objects.filter(user__username__in=wanted).values_list("user__username", flat=True)
        )
        missing = [name for name in wanted if name not in have]
        if not missing:
            break
        print(f"{bench}: creating {len(missing)} residents…", file=sys.stderr, flush=True)
        rng = random.Random()
        try:
            with transaction.atomic():
                users = list(User.objects.filter(username__in=missing))
                known = {user.username for user in users}
                users += User.objects.bulk_create(
                    [User(username=name, password="!") for name in missing if name not in known]
                )
                Resident.objects.bulk_create(
                    [_resident(user, identity(user.username, rng), rng) for user in users], batch_size=1000
                )
        except IntegrityError:
            if attempt == ATTEMPTS - 1:
                raise
    return {
        resident.user.username: resident
        for resident in Resident.objects.filter(user__username__in=wanted).select_related("user")
    }


def _resident(user: User, identity: Identity, rng: random.Random) -> Resident:
    first_eleven = f"{rng.randrange(10**10, 10**11):011d}"
    number = first_eleven + str(my_number_check_digit(first_eleven))
    return Resident(
        user=user, **identity, my_number=number, my_number_hash=lookup_hash(number, purpose="my-number")
    )


def demo_people() -> dict[str, dict]:
    """The agency simulator's demo people by id (the card name: yamada-hanako, …)."""
    return {person["id"]: person for person in load_people(SimulatorSettings())}


def demo_identity(person: dict, *, address: str) -> Identity:
    """A demo person's name and birth date, at an address in a benchmark's own town (its notices go to no
    other benchmark's residents)."""
    return {
        "name": person["name"],
        "name_kana": person["name_kana"],
        "birth_date": dt.date.fromisoformat(person["birth_date"]),
        "sex": person["sex"],
        "address": address,
    }


def simulator_data(category: str, person_id: str, *, bench: str) -> dict:
    """The category's `data` the agency simulator generates for the demo person today, checked against the
    portal's contract, as the fetch worker would have stored it."""
    simulator = SimulatorSettings()
    agency = agency_for_category(category).id
    residents = tuple(_as_seen_by(person, agency) for person in load_people(simulator))
    world = AgencyWorld(
        agency_id=agency, residents=residents, seed=simulator.seed, today=dt.datetime.now(JST).date()
    )
    data = GENERATORS[category](next(r for r in residents if r.demo_id == person_id), world)
    if not data_validate(category=category, data=data):
        sys.exit(f"{bench}: no contract for {category} to check the payload against")
    return data


def entries_cached(residents: Iterable[Resident], category: str, data: dict) -> int:
    """Each resident's entry, done and fresh for this run (the field encrypts on save); the JSON's bytes."""
    now = timezone.now()
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for resident in residents:
        CategoryEntry.objects.update_or_create(
            resident=resident,
            category=category,
            defaults={
                "agency_id": agency_for_category(category).id,
                "state": EntryState.DONE,
                "payload": payload,
                "as_of": now,
                "fetched_at": now,
                "expires_at": now + dt.timedelta(seconds=settings.MYINFO_CACHE_SECONDS),
                "requested_at": now,
                "last_attempt_at": now,
                "last_error_code": "",
                "attempts": 1,
                "consecutive_failures": 0,
            },
        )
    return len(payload.encode())
