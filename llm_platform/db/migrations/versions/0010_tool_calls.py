"""tool calling: the calls a model answered with, on the query row

Revision ID: 0010_tool_calls
Revises: 0009_agent_steps
Create Date: 2026-12-05 01:45:00

`queries.tool_calls` holds the model's tool calls (`[{id, name, arguments}]`, null when it
made none); the tools offered and the results sent back are in the logged `request`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_tool_calls"
down_revision: str | None = "0009_agent_steps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    with op.batch_alter_table("queries") as batch_op:
        batch_op.add_column(sa.Column("tool_calls", json_type, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("queries") as batch_op:
        batch_op.drop_column("tool_calls")
