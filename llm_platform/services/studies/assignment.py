"""Balanced assignment: the least-filled arm among participants who have not dropped out,
ties broken by a random draw reproducible from the study's seed and the arrival's number.

Callers hold the study row locked (PostgreSQL `FOR UPDATE`; SQLite write transactions are
serialised), so two arrivals never see the same counts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.errors import Conflict
from llm_platform.db.models import Study, utcnow
from llm_platform.db.repositories.studies import ParticipantRepository
from llm_platform.schemas.studies import StudyDefinition


class StudyFull(Conflict):
    type = "study_full"
    detail = "This study has all the participants it needs"


@dataclass(frozen=True)
class Assignment:
    arm: str
    audit: dict[str, Any]


def choose_arm(
    arms: list[str], sizes: dict[str, int], *, seed: int, sequence: int, target: int | None
) -> Assignment:
    """Pure: the arm for the `sequence`-th arrival given the current arm sizes."""
    counts = {arm: sizes.get(arm, 0) for arm in arms}
    open_arms = [a for a in arms if target is None or counts[a] < target]
    if not open_arms:
        raise StudyFull()
    least = min(counts[a] for a in open_arms)
    tied = sorted(a for a in open_arms if counts[a] == least)
    draw = random.Random(f"{seed}:{sequence}").randrange(len(tied))
    arm = tied[draw]
    reason = "least filled" if len(tied) == 1 else f"least filled, tie of {len(tied)} drawn"
    return Assignment(
        arm=arm,
        audit={
            "reason": reason,
            "counts": counts,
            "tied": tied,
            "seed": seed,
            "sequence": sequence,
            "draw": draw,
            "target_per_arm": target,
        },
    )


async def assign(
    db: AsyncSession, study: Study, definition: StudyDefinition, *, is_pilot: bool
) -> Assignment:
    """Assign the next arrival (the study row must be locked by the caller)."""
    cutoff = utcnow() - timedelta(minutes=definition.dropout_timeout_minutes)
    sizes = await ParticipantRepository(db).arm_sizes(
        study.id, is_pilot=is_pilot, active_since=cutoff
    )
    sequence = study.assignments
    result = choose_arm(
        [a.name for a in definition.arms],
        sizes,
        seed=definition.assignment_seed,
        sequence=sequence,
        target=definition.target_per_arm,
    )
    study.assignments = sequence + 1
    result.audit["dropout_cutoff"] = cutoff.isoformat()
    result.audit["pilot"] = is_pilot
    return result
