"""user studies (issue 14): studies and their versions, participants, the recruitment ids
kept apart for payments, questionnaire answers, the audit log

Revision ID: 0006_studies
Revises: 0005_rag_context_sections
Create Date: 2026-12-04 21:35:53

(Another branch may add its own 0006: the merge sets this one's down_revision after it.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_studies"
down_revision: str | None = "0005_rag_context_sections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("owner_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("assignments", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
    )
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_studies_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "study_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("study_id", sa.String(length=128), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_audit")),
    )
    with op.batch_alter_table("study_audit", schema=None) as batch_op:
        batch_op.create_index(
            "ix_study_audit_study_created", ["study_id", "created_at"], unique=False
        )

    op.create_table(
        "study_participants",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("study_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("recruitment_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "extra_params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("arm", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_pilot", sa.Boolean(), nullable=False),
        sa.Column("is_preview", sa.Boolean(), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=True),
        sa.Column(
            "assignment",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("completion_code", sa.String(length=512), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pre_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("task_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("post_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
            name=op.f("fk_study_participants_study_id_studies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_participants")),
        sa.UniqueConstraint("study_id", "recruitment_hash", name="uq_study_participants_recruit"),
        sa.UniqueConstraint("user_id", name="uq_study_participants_user"),
    )
    with op.batch_alter_table("study_participants", schema=None) as batch_op:
        batch_op.create_index("ix_study_participants_study_arm", ["study_id", "arm"], unique=False)

    op.create_table(
        "study_versions",
        sa.Column("study_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
            name=op.f("fk_study_versions_study_id_studies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("study_id", "version", name=op.f("pk_study_versions")),
    )
    op.create_table(
        "study_answers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("study_id", sa.String(length=128), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("item_id", sa.String(length=128), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attention_ok", sa.Boolean(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["study_participants.id"],
            name=op.f("fk_study_answers_participant_id_study_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_answers")),
        sa.UniqueConstraint("participant_id", "item_id", name="uq_study_answers_item"),
    )
    with op.batch_alter_table("study_answers", schema=None) as batch_op:
        batch_op.create_index("ix_study_answers_study", ["study_id"], unique=False)

    op.create_table(
        "study_recruitment_ids",
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("recruitment_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["study_participants.id"],
            name=op.f("fk_study_recruitment_ids_participant_id_study_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_study_recruitment_ids")),
    )


def downgrade() -> None:
    op.drop_table("study_recruitment_ids")
    with op.batch_alter_table("study_answers", schema=None) as batch_op:
        batch_op.drop_index("ix_study_answers_study")

    op.drop_table("study_answers")
    op.drop_table("study_versions")
    with op.batch_alter_table("study_participants", schema=None) as batch_op:
        batch_op.drop_index("ix_study_participants_study_arm")

    op.drop_table("study_participants")
    with op.batch_alter_table("study_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_study_audit_study_created")

    op.drop_table("study_audit")
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_studies_owner_id"))

    op.drop_table("studies")
