"""Run controls: why a run stopped early, notes and tags, a place in the queue, a
preflight's time estimate, and the best epoch that early stopping keeps.

`queue_rank` orders the queue (lowest first, ties by id). Existing runs get their id, so the
queue keeps today's order.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("stop_reason", sa.Text()))
    op.add_column("runs", sa.Column("notes", sa.Text(), nullable=False, server_default=""))
    op.add_column("runs", sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column("runs", sa.Column("queue_rank", sa.Double(), nullable=False, server_default="0"))
    op.add_column("runs", sa.Column("estimated_epoch_seconds", sa.Double()))
    op.add_column("runs", sa.Column("best_epoch", sa.Integer()))
    op.execute("UPDATE runs SET queue_rank = id")
    op.create_index("ix_runs_queue_rank", "runs", ["queue_rank"])


def downgrade() -> None:
    op.drop_index("ix_runs_queue_rank", "runs")
    with op.batch_alter_table("runs") as batch:
        for column in (
            "best_epoch",
            "estimated_epoch_seconds",
            "queue_rank",
            "tags",
            "notes",
            "stop_reason",
        ):
            batch.drop_column(column)
