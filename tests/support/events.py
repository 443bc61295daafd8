"""Study sessions and UI events as the API takes them: an event body, a started session."""

from __future__ import annotations

from tests.conftest import AppClient


def ev(i: int | str, type_: str = "click", **data: object) -> dict[str, object]:
    return {
        "event_id": f"e-{i}",
        "t": 1_700_000_000_000 + int(str(i).split("-")[-1] or 0),
        "type": type_,
        "data": data,
    }


async def start(
    client: AppClient, session_id: str = "s1", user_id: str = "u1", **extra: object
) -> dict:
    body = {"session_id": session_id, "user_id": user_id, **extra}
    r = await client.post("/api/v1/sessions", json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()
