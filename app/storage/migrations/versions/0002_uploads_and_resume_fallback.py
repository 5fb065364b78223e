"""Uploaded checkpoints to start runs from, and resume's fallback to a valid checkpoint.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("resume_fallback", sa.Boolean, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("upload_id", sa.Integer))
        batch.create_foreign_key(
            "fk_runs_upload_id_uploads", "uploads", ["upload_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint("fk_runs_upload_id_uploads", type_="foreignkey")
        batch.drop_column("upload_id")
        batch.drop_column("resume_fallback")
    op.drop_table("uploads")
