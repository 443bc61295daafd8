"""agents (issue 13): agent_steps, one row per agent per turn

Revision ID: 0009_agent_steps
Revises: 0008_products
Create Date: 2026-12-05 01:30:00

(After the products migration; the memories migration, 0007, comes from another branch: the
merge chains them.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_agent_steps"
down_revision: str | None = "0008_products"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_steps",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("query_id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=True),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("agent", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("input_summary", sa.Text(), nullable=True),
        sa.Column("output_summary", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(length=256), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_steps")),
    )
    with op.batch_alter_table("agent_steps", schema=None) as batch_op:
        batch_op.create_index("ix_agent_steps_query", ["query_id"], unique=False)
        batch_op.create_index("ix_agent_steps_session", ["session_id"], unique=False)
        batch_op.create_index("ix_agent_steps_user", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("agent_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_steps_user")
        batch_op.drop_index("ix_agent_steps_session")
        batch_op.drop_index("ix_agent_steps_query")
    op.drop_table("agent_steps")
