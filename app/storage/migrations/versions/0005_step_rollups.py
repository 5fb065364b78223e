"""Step-loss rollups for fast chart reads (app/storage/rollups.py).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_rollups",
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("width", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.Integer, primary_key=True),
        sa.Column("min_step", sa.Integer, nullable=False),
        sa.Column("min_loss", sa.Double, nullable=False),
        sa.Column("min_epoch", sa.Integer, nullable=False),
        sa.Column("max_step", sa.Integer, nullable=False),
        sa.Column("max_loss", sa.Double, nullable=False),
        sa.Column("max_epoch", sa.Integer, nullable=False),
    )
    # Runs recorded before this revision have no rollups: their charts are downsampled from
    # the step rows at read time (app/storage/rollups.py::chart_points answers None for them).


def downgrade() -> None:
    op.drop_table("step_rollups")
