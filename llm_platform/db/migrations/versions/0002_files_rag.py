"""files, chunks and the keyword index for RAG

Revision ID: 0002_files_rag
Revises: 0001
Create Date: 2026-11-25 22:40:00

Vector tables (`chunk_vec_<dim>`) are created by the vector store on first use: their
dimension depends on the configured embedding model and they need an extension (sqlite-vec,
pgvector) that a migration cannot assume.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_files_rag"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=True),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("char_count", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=512), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("embedding_model", sa.String(length=256), nullable=True),
        sa.Column("embedding_dim", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
        sa.UniqueConstraint("user_id", "sha256", name="uq_files_user_sha256"),
    )
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.create_index("ix_files_status_lease", ["status", "lease_until"], unique=False)
        batch_op.create_index("ix_files_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "file_chunks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("file_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("char_start", sa.Integer(), nullable=False),
        sa.Column("char_end", sa.Integer(), nullable=False),
        sa.Column("heading", sa.String(length=512), nullable=True),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.Column("embedding_model", sa.String(length=256), nullable=False),
        sa.Column("embedding_dim", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["files.id"],
            name=op.f("fk_file_chunks_file_id_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_chunks")),
        sa.UniqueConstraint("file_id", "chunk_index", name="uq_file_chunks_file_index"),
    )
    with op.batch_alter_table("file_chunks", schema=None) as batch_op:
        batch_op.create_index("ix_file_chunks_user_file", ["user_id", "file_id"], unique=False)

    # Keyword index (not in the ORM metadata: database-specific types).
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE chunk_fts USING fts5("
            "body, tokenize = 'porter unicode61 remove_diacritics 2')"
        )
    else:
        op.execute(
            "CREATE TABLE chunk_fts ("
            " chunk_id BIGINT PRIMARY KEY REFERENCES file_chunks(id) ON DELETE CASCADE,"
            " user_id VARCHAR(128) NOT NULL,"
            " file_id VARCHAR(32) NOT NULL,"
            " tsv TSVECTOR NOT NULL)"
        )
        op.execute("CREATE INDEX ix_chunk_fts_tsv ON chunk_fts USING gin (tsv)")
        op.execute("CREATE INDEX ix_chunk_fts_user_file ON chunk_fts (user_id, file_id)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS chunk_fts")
    op.drop_table("file_chunks")
    op.drop_table("files")
