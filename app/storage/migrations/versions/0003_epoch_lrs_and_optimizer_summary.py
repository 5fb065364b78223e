"""Every param group's learning rate and the optimizer inspector's summary, per epoch.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy): nullable columns need no batch rebuild on SQLite.
    op.add_column("epoch_metrics", sa.Column("lrs", sa.JSON))
    op.add_column("epoch_metrics", sa.Column("optimizer_summary", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("epoch_metrics") as batch:
        batch.drop_column("optimizer_summary")
        batch.drop_column("lrs")
