"""Run kinds: a run is torchdash's loop on a config (`loop`), the user's own script launched in a
worker slot (`script`, its path, arguments and environment in `script`), or a run trained
elsewhere and logged over REST (`external`, whose last report time tells a silent one apart).

Existing runs are all loop runs.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("kind", sa.String(16), nullable=False, server_default="loop"))
    op.add_column("runs", sa.Column("script", sa.JSON))
    op.add_column("runs", sa.Column("last_report_at", sa.DateTime))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("last_report_at")
        batch.drop_column("script")
        batch.drop_column("kind")
