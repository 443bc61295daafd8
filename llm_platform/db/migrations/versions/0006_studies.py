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


# Helpers for the column groups the tables repeat (this migration only: the shipped ones
# stay as generated).
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json(name: str) -> sa.Column:
    return sa.Column(
        name,
        sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
        nullable=False,
    )


def _id() -> sa.Column:
    return sa.Column("id", _BIG_ID, autoincrement=True, nullable=False)


def _key(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=128), nullable=nullable)


def _times(*names: str, nullable: bool = True) -> list[sa.Column]:
    return [sa.Column(n, sa.DateTime(timezone=True), nullable=nullable) for n in names]


def _cascade(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE",
    )


def _index(table: str, name: str, columns: list[str]) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(name, columns, unique=False)


def _drop_index(table: str, name: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_index(name)


def upgrade() -> None:
    op.create_table(
        "studies",
        _key("id"),
        _key("owner_id"),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _json("definition"),
        sa.Column("assignments", sa.Integer(), nullable=False),
        *_times("created_at", "updated_at", nullable=False),
        *_times("closed_at", "purged_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
    )
    _index("studies", op.f("ix_studies_owner_id"), ["owner_id"])

    op.create_table(
        "study_audit",
        _id(),
        _key("study_id"),
        _key("actor"),
        sa.Column("action", sa.String(length=64), nullable=False),
        _json("details"),
        *_times("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_audit")),
    )
    _index("study_audit", "ix_study_audit_study_created", ["study_id", "created_at"])

    op.create_table(
        "study_participants",
        _id(),
        _key("study_id"),
        _key("user_id"),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("recruitment_hash", sa.String(length=64), nullable=True),
        _json("extra_params"),
        _key("arm"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_pilot", sa.Boolean(), nullable=False),
        sa.Column("is_preview", sa.Boolean(), nullable=False),
        _key("session_id", nullable=True),
        _json("assignment"),
        sa.Column("completion_code", sa.String(length=512), nullable=True),
        *_times("entered_at", nullable=False),
        *_times(
            "consented_at",
            "declined_at",
            "pre_done_at",
            "task_started_at",
            "post_done_at",
            "completed_at",
        ),
        *_times("last_seen_at", nullable=False),
        _cascade("study_participants", "study_id", "studies"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_participants")),
        sa.UniqueConstraint("study_id", "recruitment_hash", name="uq_study_participants_recruit"),
        sa.UniqueConstraint("user_id", name="uq_study_participants_user"),
    )
    _index("study_participants", "ix_study_participants_study_arm", ["study_id", "arm"])

    op.create_table(
        "study_versions",
        _key("study_id"),
        sa.Column("version", sa.Integer(), nullable=False),
        _json("definition"),
        *_times("created_at", nullable=False),
        _cascade("study_versions", "study_id", "studies"),
        sa.PrimaryKeyConstraint("study_id", "version", name=op.f("pk_study_versions")),
    )
    op.create_table(
        "study_answers",
        _id(),
        sa.Column("participant_id", _BIG_ID, nullable=False),
        _key("study_id"),
        sa.Column("phase", sa.String(length=8), nullable=False),
        _key("item_id"),
        _json("value"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attention_ok", sa.Boolean(), nullable=True),
        *_times("created_at", nullable=False),
        _cascade("study_answers", "participant_id", "study_participants"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_answers")),
        sa.UniqueConstraint("participant_id", "item_id", name="uq_study_answers_item"),
    )
    _index("study_answers", "ix_study_answers_study", ["study_id"])

    op.create_table(
        "study_recruitment_ids",
        sa.Column("participant_id", _BIG_ID, nullable=False),
        sa.Column("recruitment_id", sa.Text(), nullable=False),
        _cascade("study_recruitment_ids", "participant_id", "study_participants"),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_study_recruitment_ids")),
    )


def downgrade() -> None:
    op.drop_table("study_recruitment_ids")
    _drop_index("study_answers", "ix_study_answers_study")
    op.drop_table("study_answers")
    op.drop_table("study_versions")
    _drop_index("study_participants", "ix_study_participants_study_arm")
    op.drop_table("study_participants")
    _drop_index("study_audit", "ix_study_audit_study_created")
    op.drop_table("study_audit")
    _drop_index("studies", op.f("ix_studies_owner_id"))
    op.drop_table("studies")
