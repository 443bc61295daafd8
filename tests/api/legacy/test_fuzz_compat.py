"""Property-based fuzzing of the old client's routes (schemathesis), as `tests/api/test_fuzz.py`
does for v1: whatever arrives, never a 5xx, and every error has the one body shape.

The query routes are left out: a valid body would run the embedded model for each example.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.checks import not_a_server_error

from llm_platform.api.legacy import files, history, sessions, tokens
from tests.support.fuzzing import error_body_shape, fuzz, live_server  # noqa: F401

pytestmark = pytest.mark.slow


def _openapi() -> dict[str, Any]:
    app = FastAPI(title="LLM Platform (legacy client routes)")
    app.include_router(sessions.router, prefix="/api/v1")
    app.include_router(history.router, prefix="/api/v1")
    app.include_router(files.router, prefix="/api/v1")
    app.include_router(tokens.router)
    return app.openapi()


schema = schemathesis.openapi.from_dict(_openapi())


@schema.parametrize()
@fuzz
def test_no_server_errors(case: Any, live_server: tuple[str, Any]) -> None:  # noqa: F811
    base, _ = live_server
    case.call_and_validate(base_url=base, checks=[not_a_server_error, error_body_shape], timeout=10)
