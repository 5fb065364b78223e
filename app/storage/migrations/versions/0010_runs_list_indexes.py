"""An index for each column the runs list sorts on (`GET /api/runs?sort=`).

`status`, `created_at` and `group_name` (the filters) already have one.

Revision ID: 0010
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_runs_name": "name",
    "ix_runs_epoch": "epoch",
    "ix_runs_started_at": "started_at",
    "ix_runs_finished_at": "finished_at",
    "ix_runs_best_val_accuracy": "best_val_accuracy",
}


def upgrade() -> None:
    for name, column in INDEXES.items():
        op.create_index(name, "runs", [column])


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="runs")
