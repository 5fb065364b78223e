"""Runs on a cluster (the Ray executor): `attempt` (how many times the run was started, which
names its cluster job uniquely) and `node` (the cluster node its current or last attempt
trained on; null for runs of the local executor).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("runs", sa.Column("node", sa.String(200)))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("node")
        batch.drop_column("attempt")
