"""Nullable losses and learning rate: a step whose loss is NaN or infinite is stored with a null
loss (a gap in the chart, where it used to be dropped), and an epoch row of a script or a run
trained elsewhere that reports no train loss, val loss or learning rate holds null there, not a
made-up 0. A step-rollup bucket holding only such steps keeps null as its lowest and highest.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

COLUMNS = {
    "epoch_metrics": ("train_loss", "val_loss", "lr"),
    "step_metrics": ("loss",),
    "step_rollups": ("min_loss", "max_loss"),
}


def upgrade() -> None:
    # SQLite cannot drop a NOT NULL in place: batch mode copies the table (app/storage/revision.py
    # turns foreign keys off first, so the copy deletes no row); PostgreSQL alters it in place.
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, existing_type=sa.Double, nullable=True)


def downgrade() -> None:
    # A step with a null loss is left out (before this revision it was never stored); an epoch
    # row's missing loss or learning rate goes back to the 0 it held then.
    op.execute("DELETE FROM step_metrics WHERE loss IS NULL")
    op.execute("DELETE FROM step_rollups WHERE min_loss IS NULL OR max_loss IS NULL")
    for column in COLUMNS["epoch_metrics"]:
        op.execute(f"UPDATE epoch_metrics SET {column} = 0 WHERE {column} IS NULL")
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, existing_type=sa.Double, nullable=False)
