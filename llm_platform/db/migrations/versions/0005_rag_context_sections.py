"""file sections: the table or text run a chunk is read in (retrieve small, read big)

Revision ID: 0005_rag_context_sections
Revises: 0004_query_running
Create Date: 2026-12-04 18:30:00

Files ingested before this revision have no sections: their chunks keep
`section_index` NULL and are handed to the model with their neighbouring chunks instead
(re-upload or re-ingest a file to get whole-table context).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_rag_context_sections"
down_revision: str | None = "0004_query_running"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "file_sections",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("file_id", sa.String(length=32), nullable=False),
        sa.Column("section_index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("page_end", sa.Integer(), nullable=True),
        sa.Column("heading", sa.String(length=512), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["files.id"],
            name=op.f("fk_file_sections_file_id_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_sections")),
        sa.UniqueConstraint("file_id", "section_index", name="uq_file_sections_file_index"),
    )
    with op.batch_alter_table("file_chunks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("section_index", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("file_chunks", schema=None) as batch_op:
        batch_op.drop_column("section_index")
    op.drop_table("file_sections")
