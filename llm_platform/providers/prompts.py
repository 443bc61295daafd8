"""Provider system prompts from `provider_prompts.json` (editable, defaults shipped).

The file maps providers (and model globs) to system prompts:

    {"default": "...",
     "providers": {"local": {"default": "...", "models": {"smollm2-*": "..."}}}}

Lookup for (provider, model): the first `models` glob matching the model, then the
provider's `default`, then the top-level `default`. `null` inherits; `""` means "send no
system prompt". The packaged file is used unless `PROVIDER_PROMPTS_PATH` names another;
that file is re-read when it changes on disk, so edits apply without a restart.
"""

from __future__ import annotations

import json
import threading
import time
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from llm_platform.core.logging import get_logger

log = get_logger("llm_platform.providers.prompts")


class ProviderPromptConfig(BaseModel):
    default: str | None = None
    models: dict[str, str | None] = Field(default_factory=dict)


class PromptFile(BaseModel):
    default: str | None = None
    providers: dict[str, ProviderPromptConfig] = Field(default_factory=dict)


class PromptFileError(ValueError):
    """The prompts file is missing or invalid (message names the file and the problem)."""


def packaged_prompts_path() -> Path:
    return Path(str(resources.files("llm_platform") / "config" / "provider_prompts.json"))


def _read(path: Path) -> PromptFile:
    try:
        return PromptFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise PromptFileError(f"provider prompts file not found: {path}") from None
    except (ValueError, ValidationError) as exc:
        raise PromptFileError(f"invalid provider prompts file {path}: {exc}") from None


RECHECK_SECONDS = 1.0


class ProviderPrompts:
    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else packaged_prompts_path()
        self._lock = threading.Lock()
        self._mtime = self._stat()
        self._checked = time.monotonic()
        self._file = _read(self.path)

    def _stat(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None

    def _current(self) -> PromptFile:
        now = time.monotonic()
        if now - self._checked < RECHECK_SECONDS:  # edits show within a second
            return self._file
        self._checked = now
        mtime = self._stat()
        if mtime is not None and mtime != self._mtime:
            with self._lock:
                if mtime != self._mtime:
                    try:
                        self._file = _read(self.path)
                    except PromptFileError as exc:  # keep serving the last good file
                        log.warning("provider_prompts_reload_failed", error=str(exc))
                    self._mtime = mtime
        return self._file

    def for_model(self, provider: str, model: str) -> str | None:
        """The system prompt for `provider:model`, or None for "send none"."""
        data = self._current()
        config = data.providers.get(provider)
        if config is not None:
            for pattern, prompt in config.models.items():
                if prompt is not None and fnmatchcase(model.lower(), pattern.lower()):
                    return prompt or None
            if config.default is not None:
                return config.default or None
        return data.default or None


_shared: dict[Path, ProviderPrompts] = {}


def system_prompt_for(provider: str, model: str, path: Path | None = None) -> str | None:
    """Convenience for callers without the registry (`ProviderRegistry.system_prompt_for`
    uses the configured file)."""
    key = Path(path) if path is not None else packaged_prompts_path()
    prompts = _shared.get(key)
    if prompts is None:
        prompts = _shared[key] = ProviderPrompts(key)
    return prompts.for_model(provider, model)
