"""Model factories for tests that need residents without walking the card flow."""

import datetime as dt

import factory

from portal.core.crypto import lookup_hash
from portal.identity.models import Resident, Sex, User
from portal.identity.mynumber import my_number_check_digit


def _my_number(n: int) -> str:
    first_eleven = f"{10_000_000_000 + n:011d}"
    return first_eleven + str(my_number_check_digit(first_eleven))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"resident-test-{n}")
    password = "!"


class ResidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Resident

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"試験 太郎{n}")
    name_kana = "シケン タロウ"
    birth_date = dt.date(1985, 4, 1)
    sex = Sex.MALE
    address = "東京都千代田区霞が関一丁目1番1号"
    my_number = factory.Sequence(_my_number)
    my_number_hash = factory.LazyAttribute(lambda o: lookup_hash(o.my_number, purpose="my-number"))
