"""Fixed reads for the hottest queries: the SQL written once per process, rows made into model instances.

Django compiles a QuerySet anew every time it runs. For a join of four or five tables that costs 2–4 ms of
CPU, several times the query itself, and the consent API runs one on every call (bench/README.md, consent
API). A `FixedRead` names the columns of each table it reads and the rest of the statement, and builds each
row's instances as the ORM would: the backend's and the fields' converters (dates on SQLite, JSON, the
encrypted fields), then `Model.from_db`, related instances cached on their foreign keys.

Fields not named are deferred, and reading one costs a query: name what the callers read. Personal
columns stay unread unless named (a resident's encrypted My Number is never decrypted by accident).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db import connection, models
from django.db.models.expressions import Col

Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class Columns:
    """The columns read of one table under `alias`; `names` None means every concrete field."""

    model: type[models.Model]
    alias: str
    names: tuple[str, ...] | None = None

    @cached_property
    def fields(self) -> list[models.Field]:
        concrete = self.model._meta.concrete_fields
        if self.names is None:
            return list(concrete)
        known = {f.name for f in concrete} | {f.attname for f in concrete}
        unknown = set(self.names) - known
        if unknown:
            raise ValueError(f"{self.model.__name__} has no column {sorted(unknown)}")
        # In the model's order, as from_db expects the values.
        return [f for f in concrete if f.name in self.names or f.attname in self.names]

    @cached_property
    def pk_index(self) -> int | None:
        for index, field in enumerate(self.fields):
            if field.primary_key:
                return index
        return None

    @cached_property
    def attnames(self) -> frozenset[str]:
        return frozenset(f.attname for f in self.fields)

    @property
    def table(self) -> str:
        return f"{connection.ops.quote_name(self.model._meta.db_table)} {self.alias}"

    def select(self) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(f.column)}" for f in self.fields)

    def converters(self) -> list[tuple[Col, list[Converter]]]:
        found = []
        for field in self.fields:
            column = Col(self.alias, field)
            found.append(
                (column, connection.ops.get_db_converters(column) + column.get_db_converters(connection))
            )
        return found

    def build(self, values: Sequence[Any], converters: list[tuple[Col, list[Converter]]]) -> models.Model:
        converted = []
        for value, (column, column_converters) in zip(values, converters, strict=True):
            for convert in column_converters:
                value = convert(value, column, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, self.attnames, converted)


class FixedRead:
    """`SELECT <the columns of parts> <rest>`: `rest` is the FROM, the joins and the WHERE, with %s
    placeholders. `one` answers the first row's instances, one per part (None for a part LEFT JOINed and
    not found, when its primary key is read), or None without a row."""

    def __init__(self, parts: Sequence[Columns], rest: Callable[[], str]) -> None:
        self.parts = tuple(parts)
        self._rest = rest  # a function: table names are quoted by the connection in use

    @cached_property
    def sql(self) -> str:
        return f"SELECT {', '.join(part.select() for part in self.parts)} {self._rest()}"

    @cached_property
    def _converters(self) -> list[list[tuple[Col, list[Converter]]]]:
        return [part.converters() for part in self.parts]

    def one(self, params: Sequence[Any]) -> tuple[models.Model | None, ...] | None:
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        instances: list[models.Model | None] = []
        start = 0
        for part, converters in zip(self.parts, self._converters, strict=True):
            end = start + len(part.fields)
            values = row[start:end]
            # A LEFT JOIN that found nothing: no instance, as select_related gives None.
            absent = part.pk_index is not None and values[part.pk_index] is None
            instances.append(None if absent else part.build(values, converters))
            start = end
        return tuple(instances)


def related_cache(instance: models.Model, field_name: str, related: models.Model) -> None:
    """Caches `related` as `instance.<field_name>` without a query, as select_related would."""
    instance._meta.get_field(field_name).set_cached_value(instance, related)


_INSERTS: dict[type[models.Model], tuple[str, list[models.Field]]] = {}


def row_insert(instance: models.Model) -> models.Model:
    """INSERTs a new instance in one fixed statement and sets its primary key, as `save()` would but
    without compiling the INSERT each time or sending `post_save`: for rows written on every call of an
    API (nothing listens for them). Fields' `pre_save` (auto_now and the like) is applied."""
    model = type(instance)
    if model not in _INSERTS:
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        sql = (
            f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
            f"RETURNING {quote(model._meta.pk.column)}"
        )
        _INSERTS[model] = (sql, fields)
    sql, fields = _INSERTS[model]
    values = [f.get_db_prep_save(f.pre_save(instance, add=True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance
