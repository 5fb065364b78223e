"""Named metrics and a monitored metric: each epoch row and checkpoint row keeps every metric by
name (`metrics`, JSON); the accuracy columns become nullable (a regression or multi-label run has
no accuracy); a run records its task, the metric it monitors with its direction, and that metric's
best value (indexed like `best_val_accuracy`: the runs list sorts on it).

Existing runs were all classification runs judged by validation accuracy: they get that monitor,
their best accuracy as their best value and, where early stopping set none, the epoch of it.
Their epoch rows keep `metrics` null: the API reads those from the old columns.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_runs_best_metric": ["best_metric"],
    "ix_runs_status_best_metric": ["status", "best_metric"],
}


def upgrade() -> None:
    # Plain ADD COLUMN for the new nullable columns (no table copy on SQLite).
    op.add_column(
        "runs",
        sa.Column("task", sa.String(32), nullable=False, server_default="classification"),
    )
    op.add_column("runs", sa.Column("monitor", sa.String(200)))
    op.add_column("runs", sa.Column("monitor_mode", sa.String(8)))
    op.add_column("runs", sa.Column("best_metric", sa.Double))
    for name, columns in INDEXES.items():
        op.create_index(name, "runs", columns)
    op.add_column("epoch_metrics", sa.Column("metrics", sa.JSON))
    op.add_column("checkpoints", sa.Column("metrics", sa.JSON))
    # SQLite cannot drop a NOT NULL in place: batch mode copies the table (app/storage/revision.py
    # turns foreign keys off first, so the copy deletes no row); PostgreSQL alters it in place.
    with op.batch_alter_table("epoch_metrics") as batch:
        batch.alter_column("train_accuracy", existing_type=sa.Double, nullable=True)
        batch.alter_column("val_accuracy", existing_type=sa.Double, nullable=True)
    op.execute(
        "UPDATE runs SET monitor = 'val_accuracy', monitor_mode = 'max', "
        "best_metric = best_val_accuracy WHERE monitor IS NULL"
    )
    op.execute(
        "UPDATE runs SET best_epoch = (SELECT e.epoch FROM epoch_metrics e "
        "WHERE e.run_id = runs.id ORDER BY e.val_accuracy DESC, e.epoch LIMIT 1) "
        "WHERE best_epoch IS NULL"
    )


def downgrade() -> None:
    # Rows of runs without accuracy cannot go back under NOT NULL: they are left out.
    op.execute("DELETE FROM epoch_metrics WHERE train_accuracy IS NULL OR val_accuracy IS NULL")
    with op.batch_alter_table("epoch_metrics") as batch:
        batch.alter_column("val_accuracy", existing_type=sa.Double, nullable=False)
        batch.alter_column("train_accuracy", existing_type=sa.Double, nullable=False)
        batch.drop_column("metrics")
    with op.batch_alter_table("checkpoints") as batch:
        batch.drop_column("metrics")
    for name in INDEXES:
        op.drop_index(name, table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("best_metric")
        batch.drop_column("monitor_mode")
        batch.drop_column("monitor")
        batch.drop_column("task")
