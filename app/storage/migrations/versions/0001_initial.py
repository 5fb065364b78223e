"""The first schema: runs, epoch and step metrics, checkpoints (torchdash 0.1.0).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("max_epochs", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("best_val_accuracy", sa.Double),
        sa.Column("stop_requested", sa.Boolean, nullable=False),
        sa.Column("worker_pid", sa.Integer),
        sa.Column("progress_batch", sa.Integer, nullable=False),
        sa.Column("progress_batches", sa.Integer, nullable=False),
        sa.Column("device", sa.String(32)),
        sa.Column("class_names", sa.JSON),
        sa.Column("model_summary", sa.Text),
        sa.Column("parameter_count", sa.Integer),
        sa.Column("parent_run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL")),
        sa.Column("fork_epoch", sa.Integer),
    )
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_table(
        "epoch_metrics",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("epoch", sa.Integer, nullable=False),
        *(
            sa.Column(name, sa.Double, nullable=False)
            for name in (
                "train_loss",
                "train_accuracy",
                "val_loss",
                "val_accuracy",
                "lr",
                "seconds",
            )
        ),  # fmt: skip
        sa.UniqueConstraint("run_id", "epoch"),
    )
    op.create_table(
        "step_metrics",
        sa.Column(
            "run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("step", sa.Integer, primary_key=True),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("loss", sa.Double, nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("batches_done", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("val_loss", sa.Double),
        sa.Column("val_accuracy", sa.Double),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("run_id", "epoch"),
    )


def downgrade() -> None:
    for table in ("checkpoints", "step_metrics", "epoch_metrics", "runs"):
        op.drop_table(table)
