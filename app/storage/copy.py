"""`python -m app copy-database`: move a torchdash database (a SQLite home) into PostgreSQL.

Every table of the models, generically, parents before children (`Base.metadata.sorted_tables`)
and in primary-key order, in batches; both databases are first brought to the newest schema.
The target must be empty (a second copy would duplicate every run). Afterwards each table's id
sequence is moved past the copied ids, so the next run created gets a new id. Files (runs'
checkpoints and logs) stay in the home folder, which the rows point into: keep TORCHDASH_HOME.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from sqlalchemy import JSON, Engine, MetaData, Table, func, make_url, select, text

from app.storage.engine import create_tables, make_engine
from app.storage.tables import Base

BATCH_ROWS = 5_000


class TargetNotEmptyError(Exception):
    """The target database already holds rows: copying would mix two homes."""


def copy_database(
    source_url: str, target_url: str, report: Callable[[str], None] = lambda _: None
) -> dict[str, int]:
    """Copy every row from `source_url` into the empty `target_url`; rows copied per table."""
    source, target = make_engine(source_url), make_engine(target_url)
    try:
        create_tables(source)  # an older source is upgraded first, as a server start would
        create_tables(target)
        _refuse_non_empty(target)
        counts = {}
        with source.connect() as reading, target.begin() as writing:
            for table in Base.metadata.sorted_tables:
                rows = reading.execute(select(table).order_by(*table.primary_key.columns))
                counts[table.name] = 0
                insert = _keeping_nulls(table).insert()
                while batch := rows.fetchmany(BATCH_ROWS):
                    writing.execute(insert, [row._asdict() for row in batch])
                    counts[table.name] += len(batch)
                report(f"{table.name}: {counts[table.name]} rows")
            _reset_sequences(target, writing)
        return counts
    finally:
        source.dispose()
        target.dispose()


def run_copy_command(source_url: str, target_url: str) -> int:
    """`python -m app copy-database --from SOURCE --to TARGET`: its exit status."""
    try:
        counts = copy_database(source_url, target_url, report=print)
    except TargetNotEmptyError as error:
        print(f"torchdash: {error}", file=sys.stderr)
        return 1
    print(f"copied {sum(counts.values())} rows into {make_url(target_url).render_as_string()}")
    return 0


def _keeping_nulls(table: Table) -> Table:
    """`table` whose JSON columns write None as SQL NULL, as the source holds it (SQLAlchemy
    would write the JSON value `null`, which reads back the same but is not NULL in SQL)."""
    copy = table.to_metadata(MetaData())
    for column in copy.columns:
        if isinstance(column.type, JSON):
            column.type = JSON(none_as_null=True)
    return copy


def _refuse_non_empty(target: Engine) -> None:
    with target.connect() as connection:
        filled = [
            table.name
            for table in Base.metadata.sorted_tables
            if connection.scalar(select(func.count()).select_from(table))
        ]
    if filled:
        raise TargetNotEmptyError(
            f"the target database is not empty (rows in {', '.join(filled)}); copy into a new, "
            "empty database"
        )


def _reset_sequences(target: Engine, connection) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL: each serial id's sequence continues after the largest id copied."""
    if target.dialect.name != "postgresql":
        return
    for table in Base.metadata.sorted_tables:
        column = table.autoincrement_column
        if column is None:
            continue
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f'COALESCE(MAX("{column.name}"), 1), MAX("{column.name}") IS NOT NULL) '
                f'FROM "{table.name}"'
            ),
            {"table": table.name, "column": column.name},
        )
