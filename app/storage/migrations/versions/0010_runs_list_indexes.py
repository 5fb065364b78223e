"""An index for each column the runs list sorts on (`GET /api/runs?sort=`), alone and after
`status`, the filter (`status`, `created_at` and `group_name` alone already have one).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SORTED = ["name", "epoch", "started_at", "finished_at", "best_val_accuracy"]
INDEXES = {
    **{f"ix_runs_{column}": [column] for column in SORTED},
    **{f"ix_runs_status_{column}": ["status", column] for column in [*SORTED, "created_at"]},
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "runs", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="runs")
