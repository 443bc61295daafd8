from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_platform.schemas.common import ClientId, Schema


class VariantSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    system_prompt: str | None = Field(default=None, max_length=20_000)
    provider: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=256)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    # The agent graph for this arm's turns (None: the request's or the server's default),
    # and whether its turns recall and save memories (None: the user's own setting).
    agent_mode: Literal["auto", "off"] | None = None
    memory: bool | None = None
    # Files of the experiment's owner every answer in this arm is grounded in.
    rag_file_ids: list[str] = Field(default_factory=list, max_length=100)


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: ClientId
    weight: float = Field(default=1.0, gt=0, le=1_000_000)
    settings: VariantSettings = Field(default_factory=VariantSettings)


class ExperimentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: ClientId | None = None
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=10_000)
    variants: list[Variant] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _unique_names(self) -> ExperimentCreate:
        names = [v.name for v in self.variants]
        if len(names) != len(set(names)):
            raise ValueError("variant names must be unique")
        return self


class ExperimentOut(Schema):
    id: str
    owner_id: str
    name: str
    description: str | None
    variants: list[Variant]
    created_at: datetime


class ArmStats(BaseModel):
    """Live counts for one arm (variant); `variant` None gathers unassigned sessions."""

    variant: str | None
    sessions: int = 0
    participants: int = 0
    queries: int = 0
    events: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class ExperimentStats(BaseModel):
    experiment_id: str
    arms: list[ArmStats]
