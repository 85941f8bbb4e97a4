"""Plain SQL over many rows at once: a fan-out's deliveries, a batch's claims, results and
attempts. At this volume model instances and the ORM's building of queries cost more than
the statements themselves.

Inserts: ``executemany`` has PostgreSQL parse and plan one INSERT per row. On PostgreSQL the
rows go as one array per column, expanded by ``unnest``: one statement, parsed and planned
once (1,000 deliveries: 60 ms instead of 90 ms). SQLite (the demo) gets ``executemany``.
"""

import datetime
import re

from django.db import connection, models


def rows_insert(
    model: type[models.Model],
    columns: tuple[str, ...],
    rows: list[tuple],
    *,
    skip_conflicts: bool = False,
) -> None:
    """Insert ``rows`` (tuples of values in ``columns`` order, already adapted for the
    database) into ``model``'s table; with ``skip_conflicts``, rows a unique constraint
    refuses are left out (ON CONFLICT DO NOTHING)."""
    if not rows:
        return
    table = model._meta.db_table
    conflict = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{_array_type(model, column)}[]" for column in columns)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
                + conflict,
                [list(values) for values in zip(*rows, strict=True)],
            )
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})" + conflict,
                rows,
            )


def _array_type(model: type[models.Model], column: str) -> str:
    # The column's type without its length: a cast to varchar(64) would cut a longer value
    # short in silence, where the insert itself refuses it.
    return re.sub(r"\(\d+\)", "", model._meta.get_field(column).db_type(connection))


def rows_by_ids(sql: str, ids: list[int], params: list, *, before: tuple = ()) -> list[tuple]:
    """The rows of ``sql``, whose ``{ids}`` stands for the placeholders of ``ids``;
    ``before`` are the parameters that come before them and ``params`` those after."""
    with connection.cursor() as cursor:
        cursor.execute(sql.format(ids=", ".join(["%s"] * len(ids))), [*before, *ids, *params])
        return cursor.fetchall()


def db_datetime(moment: datetime.datetime | None):
    """``moment`` as plain SQL takes it on this database."""
    return connection.ops.adapt_datetimefield_value(moment)
