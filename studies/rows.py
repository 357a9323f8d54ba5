"""Plain rows into one table in one statement: the write path for the thousands of rows an
import makes (a transcript's turns and sentences, a project's codings), which bulk_create
would build a model object for, one each, taking most of the time.

PostgreSQL takes each column as an array (INSERT ... SELECT FROM unnest); SQLite runs one
prepared statement per row (executemany), which costs it no round trips.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, models, router


def insert_rows(
    model: type[models.Model],
    names: Sequence[str],
    rows: Sequence[tuple],
    *,
    ignore_conflicts: bool = False,
) -> int:
    """Insert `rows` (values in the order of the field `names`; foreign keys as ids) and return
    how many were written. With `ignore_conflicts`, a row that a unique constraint refuses is
    left out (ON CONFLICT DO NOTHING, in SQLite and PostgreSQL alike) and not counted."""
    if not rows:
        return 0
    connection = connections[router.db_for_write(model)]
    q = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in names]
    columns = ", ".join(q(field.column) for field in fields)
    # Only the model's own table and column names go into the statement; values are bound.
    insert = f"INSERT INTO {q(model._meta.db_table)} ({columns}) "
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
            cursor.execute(
                f"{insert}SELECT * FROM unnest({arrays}){conflict}",  # noqa: S608
                [list(column) for column in zip(*rows, strict=True)],
            )
        else:
            values = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"{insert}VALUES ({values}){conflict}", rows)
        return cursor.rowcount
