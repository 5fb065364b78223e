"""The cost of a run: its GPU-hours and energy as running totals on `runs`, and per GPU in
`run_gpu_costs` (app/storage/run_costs.py).

Revision ID: 0016
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("gpu_hours", sa.Double))
        batch.add_column(sa.Column("energy_wh", sa.Double))
        batch.add_column(sa.Column("cpu_energy_wh", sa.Double))
    op.create_table(
        "run_gpu_costs",
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("gpu", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200)),
        sa.Column("hours", sa.Double, nullable=False),
        sa.Column("energy_wh", sa.Double),
        sa.Column("samples", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("run_gpu_costs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("cpu_energy_wh")
        batch.drop_column("energy_wh")
        batch.drop_column("gpu_hours")
