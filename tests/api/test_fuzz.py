"""Property-based fuzzing of every operation in the OpenAPI schema (schemathesis).

Valid and invalid requests are generated from the schema and sent to a real server on
127.0.0.1 (SQLite). Whatever arrives, the answer is never a 5xx, and every error has the one
body shape `{"detail", "type", "request_id"}`.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.checks import not_a_server_error

from llm_platform.api.v1.router import api_router
from tests.support.fuzzing import ADMIN, error_body_shape, fuzz, live_server  # noqa: F401

pytestmark = pytest.mark.slow


def _openapi() -> dict[str, Any]:
    # The same routers as the app, without its lifespan or settings (nothing runs at import).
    app = FastAPI(title="LLM Platform")
    app.include_router(api_router)
    return app.openapi()


schema = schemathesis.openapi.from_dict(_openapi())


@schema.parametrize()
@fuzz
def test_no_server_errors(case: Any, live_server: tuple[str, Any]) -> None:  # noqa: F811
    base, _ = live_server
    case.call_and_validate(
        base_url=base,
        headers=ADMIN,
        checks=[not_a_server_error, error_body_shape],
        timeout=30,
    )
