"""System metrics per run: CPU, memory and GPU samples of its worker (app/worker/system_sampler.py).

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "system_metrics",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.Column("gpu", sa.String(16)),
        sa.Column("cpu_percent", sa.Double),
        sa.Column("rss_mb", sa.Double),
        sa.Column("gpu_utilization_percent", sa.Double),
        sa.Column("gpu_memory_used_mb", sa.Double),
        sa.Column("gpu_memory_total_mb", sa.Double),
        sa.Column("gpu_power_watts", sa.Double),
    )
    op.create_index("ix_system_metrics_run_id", "system_metrics", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_system_metrics_run_id", "system_metrics")
    op.drop_table("system_metrics")
