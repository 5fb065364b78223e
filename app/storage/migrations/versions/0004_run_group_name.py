"""Runs launched together by one sweep share a group name.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("group_name", sa.String(200)))
    op.create_index("ix_runs_group_name", "runs", ["group_name"])


def downgrade() -> None:
    op.drop_index("ix_runs_group_name", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("group_name")
