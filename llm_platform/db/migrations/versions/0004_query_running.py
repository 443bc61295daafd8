"""crash-safe query log: `running` rows carry the instance that runs them; instances table

Revision ID: 0004_query_running
Revises: 0003_sqlite_binary_vector_index
Create Date: 2026-12-04 18:20:00

A query row is written with status `running` when the call starts and updated when it ends.
`queries.instance_id` names the server process running it; `instances` holds each live
process's heartbeat, so that another process can tell which `running` rows were left by a
dead one (they become `interrupted`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_query_running"
down_revision: str | None = "0003_sqlite_binary_vector_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "instances",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
    )
    with op.batch_alter_table("queries") as batch_op:
        batch_op.add_column(sa.Column("instance_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_queries_status_instance", ["status", "instance_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("queries") as batch_op:
        batch_op.drop_index("ix_queries_status_instance")
        batch_op.drop_column("instance_id")
    op.drop_table("instances")
