"""Uploaded files served back never run in the browser, and their names carry no direction
controls (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from llm_platform.rag.filetypes import sanitize_filename
from tests.conftest import AppClient
from tests.support.files import upload

U1 = {"x-user-id": "u1"}

ACTIVE = [
    ("page.html", b"<!doctype html><html><body><script>alert(1)</script></body></html>"),
    ("pic.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ("data.xml", b'<?xml version="1.0"?><x><script>alert(1)</script></x>'),
]


@pytest.mark.parametrize(("name", "data"), ACTIVE, ids=[n for n, _ in ACTIVE])
async def test_active_content_is_served_sandboxed_as_plain_text(
    client: AppClient, name: str, data: bytes
) -> None:
    r = await upload(client, name, data, content_type="text/html")
    assert r.status_code == 201, r.text
    r = await client.get(f"/api/v1/files/{r.json()['id']}/content", headers=U1)
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"].startswith("text/plain")
    assert "sandbox" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment;")


async def test_other_files_keep_their_type_and_are_sandboxed(client: AppClient) -> None:
    r = await upload(client, "notes.md", b"# Notes\n\nplain", content_type="text/markdown")
    r = await client.get(f"/api/v1/files/{r.json()['id']}/content", headers=U1)
    assert r.headers["content-type"].startswith("text/markdown")
    assert "sandbox" in r.headers["content-security-policy"]


BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


@pytest.mark.parametrize("char", [*BIDI, "\u200e", "\u200f", "\u061c", "\ufeff", "\u200b"])
def test_direction_and_invisible_marks_are_removed_from_names(char: str) -> None:
    assert sanitize_filename(f"invoice{char}fdp.exe") == "invoicefdp.exe"


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"])
def test_control_characters_are_replaced_in_names(char: str) -> None:
    assert sanitize_filename(f"a{char}b.txt") == "a_b.txt"


async def test_uploaded_name_with_right_to_left_override_is_stored_clean(
    client: AppClient,
) -> None:
    r = await upload(client, "invoice\u202efdp.txt", b"hello there")
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "invoicefdp.txt"
    listed = (await client.get("/api/v1/files", headers=U1)).json()["items"]
    assert [f["name"] for f in listed] == ["invoicefdp.txt"]
