"""A run's worker is named by its executor's handle, a string (a pid locally, a job id on a
cluster), instead of an OS process id.

`worker_pid` stays: a worker started before this revision clears it when it writes its final
status, and must still be able to after the server was upgraded under it. Its pid is copied
into `worker_handle`, so the upgraded server adopts it.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("worker_handle", sa.String(200)))
    op.execute(
        "UPDATE runs SET worker_handle = CAST(worker_pid AS VARCHAR(200)) "
        "WHERE worker_pid IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("worker_handle")
