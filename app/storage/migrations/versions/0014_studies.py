"""Studies: `run_studies` (a search Optuna runs over a base config, steered by torchdash) and each
run's study and trial number. Optuna's own tables live apart (app/studies/storage.py).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_studies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stop_reason", sa.Text),
        sa.Column("objective", sa.String(200), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("space", sa.JSON, nullable=False),
        sa.Column("base_config", sa.JSON, nullable=False),
        sa.Column("n_trials", sa.Integer, nullable=False),
        sa.Column("parallelism", sa.Integer),
        sa.Column("sampler", sa.String(16), nullable=False),
        sa.Column("pruner", sa.String(16), nullable=False),
        sa.Column("seeds", sa.Integer, nullable=False, server_default="1"),
        sa.Column("resumed_at_trial", sa.Integer, nullable=False, server_default="0"),
        sa.Column("group_name", sa.String(200), nullable=False),
        sa.Column("optuna_study_name", sa.String(200), nullable=False, unique=True),
        sa.Column("tags", sa.JSON, nullable=False, server_default="[]"),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
    )
    op.create_index("ix_run_studies_status", "run_studies", ["status"])
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("study_id", sa.Integer))
        batch.add_column(sa.Column("trial_number", sa.Integer))
        batch.create_foreign_key(
            "fk_runs_study_id", "run_studies", ["study_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_runs_study_id", ["study_id"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_study_id")
        batch.drop_constraint("fk_runs_study_id", type_="foreignkey")
        batch.drop_column("trial_number")
        batch.drop_column("study_id")
    op.drop_index("ix_run_studies_status", "run_studies")
    op.drop_table("run_studies")
