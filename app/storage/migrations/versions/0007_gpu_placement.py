"""Runs placed on GPUs: `assigned_gpus` (NVML index strings, empty for a CPU run) and
`waiting_reason` (why a queued run waits, written by the dispatcher).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "runs", sa.Column("assigned_gpus", sa.JSON(), nullable=False, server_default="[]")
    )
    op.add_column("runs", sa.Column("waiting_reason", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("waiting_reason")
        batch.drop_column("assigned_gpus")
