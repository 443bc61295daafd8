"""User studies (issue 14): the definition a researcher writes, what a participant sees of it
(`ParticipantState`), the researcher's live view and the export codebook.

The wire contract is /work/notes/study-api.md (docs/studies.md in the repository)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from llm_platform.schemas.common import ClientId, Schema

ItemKind = Literal["likert", "single", "multiple", "text", "number"]
AgentMode = Literal["off", "on"]
StudyState = Literal["draft", "open", "closed"]
ParticipantStatus = Literal[
    "entered", "consented", "declined", "pre_done", "task", "post_done", "completed", "withdrawn"
]
Phase = Literal["pre", "post"]
ExportTable = Literal["participants", "messages", "events", "answers"]
# A short text on one line (labels, options, codes).
Label = Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[^\x00-\x1f\x7f]+$")]
Markdown = Annotated[str, Field(max_length=100_000)]
# Names of URL parameters a recruitment platform sends.
ParamName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
# Strict: `true` stays a boolean (an invalid likert answer), not the integer 1.
AnswerValue = StrictBool | StrictInt | StrictFloat | StrictStr | list[StrictStr] | None
# Study ids appear in URLs (/s/<id>) and in experiment ids (`study.<id>.v<version>`).
StudySlug = Annotated[str, Field(min_length=1, max_length=96, pattern=r"^[A-Za-z0-9._\-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Scale(_Strict):
    min: int = Field(default=1, ge=-100, le=100)
    max: int = Field(default=7, ge=-100, le=100)
    min_label: str | None = Field(default=None, max_length=256)
    max_label: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.max <= self.min:
            raise ValueError("scale.max must be greater than scale.min")
        return self


class AttentionCheck(_Strict):
    expected: AnswerValue


class Item(_Strict):
    """One questionnaire item; the fields that apply depend on `kind`."""

    id: ClientId
    kind: ItemKind
    prompt: Markdown
    required: bool = True
    options: list[Label] | None = Field(default=None, max_length=100)
    scale: Scale | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = Field(default=None, ge=1, le=100_000)
    attention_check: AttentionCheck | None = None

    @model_validator(mode="after")
    def _kind_fields(self) -> Item:
        if self.kind in ("single", "multiple"):
            if not self.options:
                raise ValueError(f"item '{self.id}': a {self.kind} item needs options")
            if len(set(self.options)) != len(self.options):
                raise ValueError(f"item '{self.id}': options must be unique")
        elif self.options is not None:
            raise ValueError(f"item '{self.id}': options only apply to single/multiple items")
        if self.kind == "likert" and self.scale is None:
            self.scale = Scale()
        if self.kind != "likert" and self.scale is not None:
            raise ValueError(f"item '{self.id}': scale only applies to likert items")
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError(f"item '{self.id}': max must not be below min")
        return self


class Arm(_Strict):
    """One condition: the settings the participant's chat runs under."""

    name: ClientId
    provider: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=256)
    system_prompt: str | None = Field(default=None, max_length=20_000)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    rag_file_ids: list[ClientId] = Field(default_factory=list, max_length=100)
    agent_mode: AgentMode = "off"
    memory: bool = False


class CompletionRule(_Strict):
    min_turns: int = Field(default=0, ge=0, le=10_000)
    min_minutes: float = Field(default=0, ge=0, le=24 * 60)
    code: Label = "COMPLETED"
    redirect_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://\S+$")


class RecruitmentParams(_Strict):
    """Which URL parameters name the participant (first present wins) and which are kept as
    extra context (Prolific's STUDY_ID/SESSION_ID)."""

    participant: list[ParamName] = Field(
        default_factory=lambda: ["PROLIFIC_PID", "participant", "response_id"], max_length=20
    )
    extra: list[ParamName] = Field(
        default_factory=lambda: ["STUDY_ID", "SESSION_ID"], max_length=20
    )


Origin = Annotated[
    str, Field(min_length=1, max_length=256, pattern=r"^https?://[A-Za-z0-9*.\-]+(:\d{1,5})?$")
]


class StudyDefinition(_Strict):
    id: StudySlug
    name: Label
    consent_markdown: Markdown = ""
    instructions_markdown: Markdown = ""
    arms: list[Arm] = Field(min_length=1, max_length=50)
    pre_questionnaire: list[Item] = Field(default_factory=list, max_length=500)
    post_questionnaire: list[Item] = Field(default_factory=list, max_length=500)
    completion: CompletionRule = Field(default_factory=CompletionRule)
    target_per_arm: int | None = Field(default=None, ge=1, le=1_000_000)
    recruitment_params: RecruitmentParams = Field(default_factory=RecruitmentParams)
    allowed_frame_origins: list[Origin] = Field(default_factory=list, max_length=20)
    assignment_seed: int = Field(default=0, ge=0, le=2**62)
    dropout_timeout_minutes: float = Field(default=30, gt=0, le=7 * 24 * 60)
    retention_days: int | None = Field(default=None, ge=1, le=36_500)
    # A recruitment id alone (a new browser, no token) resumes its participant: convenient,
    # but whoever knows the id reads that participant's chat. False: only the browser that
    # holds the participant's token resumes (docs/studies.md).
    resume_by_recruitment_id: bool = True

    @model_validator(mode="after")
    def _unique(self) -> StudyDefinition:
        names = [a.name for a in self.arms]
        if len(names) != len(set(names)):
            raise ValueError("arm names must be unique")
        ids = [i.id for i in self.pre_questionnaire + self.post_questionnaire]
        if len(ids) != len(set(ids)):
            raise ValueError("questionnaire item ids must be unique across both questionnaires")
        return self

    def items(self, phase: Phase) -> list[Item]:
        return self.pre_questionnaire if phase == "pre" else self.post_questionnaire


class StudyOut(BaseModel):
    id: str
    name: str
    owner_id: str
    state: StudyState
    version: int
    definition: StudyDefinition
    created_at: datetime
    updated_at: datetime
    participant_link: str


# ------------------------------------------------------------------ participants


class EnterRequest(_Strict):
    params: dict[str, str] = Field(default_factory=dict, max_length=50)


class ConsentRequest(_Strict):
    agree: bool


class AnswersRequest(_Strict):
    phase: Phase
    answers: dict[str, AnswerValue] = Field(default_factory=dict, max_length=1000)


class PublicItem(_Strict):
    """An item as a participant sees it: no expected answer of an attention check."""

    id: str
    kind: ItemKind
    prompt: str
    required: bool
    options: list[str] | None = None
    scale: Scale | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = None


class Progress(BaseModel):
    turns: int
    min_turns: int
    minutes: float
    min_minutes: float
    met: bool


class ParticipantState(BaseModel):
    study_id: str
    study_name: str
    version: int
    status: ParticipantStatus
    arm_label: str
    session_id: str | None
    consent_markdown: str
    instructions_markdown: str
    pre_questionnaire: list[PublicItem]
    post_questionnaire: list[PublicItem]
    progress: Progress
    completion_code: str | None = None
    redirect_url: str | None = None
    is_preview: bool = False


class EnterResponse(BaseModel):
    token: str
    participant: ParticipantState


class ItemError(BaseModel):
    item: str
    detail: str


# ------------------------------------------------------------------ researcher view


class ArmProgress(BaseModel):
    arm: str
    started: int = 0
    consented: int = 0
    declined: int = 0
    completed: int = 0
    dropped: int = 0
    withdrawn: int = 0
    active: int = 0
    median_minutes_on_task: float | None = None
    turns: int = 0
    attention_failures: int = 0


class StudyProgress(BaseModel):
    study_id: str
    state: StudyState
    version: int
    arms: list[ArmProgress]
    totals: ArmProgress
    updated_at: datetime


class ParticipantRow(Schema):
    pseudonym: str
    arm: str
    status: str
    version: int
    is_pilot: bool
    entered_at: datetime
    consented_at: datetime | None
    task_started_at: datetime | None
    completed_at: datetime | None
    last_seen_at: datetime
    turns: int


class PreviewOut(BaseModel):
    token: str
    url: str
    arm: str


class CodebookColumn(BaseModel):
    name: str
    type: str
    description: str


class Codebook(BaseModel):
    study_id: str
    version: int
    tables: dict[str, list[CodebookColumn]]


class RecruitmentMapRow(BaseModel):
    pseudonym: str
    recruitment_id: str
    arm: str
    status: str
    completion_code: str | None


class AuditRecord(Schema):
    id: int
    study_id: str
    actor: str
    action: str
    details: dict[str, Any]
    created_at: datetime


class PilotReport(BaseModel):
    participants: int
    completed: int
    arms: dict[str, int]
    completion_rate: float
    median_seconds: float | None
    failed_steps: dict[str, int]
