"""`llm-platform products import|demo` against the test's database (SQLite and PostgreSQL):
CSV and JSON Lines imports, bad rows reported by line with nothing written, the generated
demo catalog, then searched through the API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

from llm_platform.core.config import Settings
from tests.conftest import app_client
from tests.support.cli import run

USER = {"X-User-ID": "shopper"}

GOOD_CSV = """\
id,title,description,category,price,currency,url,rating,attributes.wireless,attributes.hours
hp-1,Quiet Wireless Headphones,Noise cancelling,Headphones,199.99,usd,https://s.ex/1,4.5,true,30
hp-2,Wired Studio Headphones,Flat response for mixing,headphones,89,USD,,4.1,false,
mug-1,Travel Mug,"Keeps coffee hot, fits cup holders",kitchen,24.5,USD,,,,
"""

BAD_CSV = """id,title,category,price,url
ok-1,Fine product,misc,10,
bad-1,,misc,10,
bad-2,Negative,misc,-5,
bad-3,Bad url,misc,5,ftp://x
ok-1,Duplicate,misc,3,
"""


async def _search(settings: Settings, **params: object) -> list[dict[str, object]]:
    async with app_client(settings) as client:
        r = await client.get("/api/v1/products/search", params=params, headers=USER)
        assert r.status_code == 200, r.text
        items: list[dict[str, object]] = r.json()["items"]
        return items


async def test_import_csv_and_jsonl(
    cli_env: Callable[..., Result], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    csv_file = tmp_path / "catalog.csv"
    csv_file.write_text(GOOD_CSV, encoding="utf-8")
    result = await run(cli_env, "products", "import", str(csv_file), "--no-embed")
    assert result.exit_code == 0, result.output
    assert "3 added, 0 updated" in result.output

    rows = [
        {"id": "hp-1", "title": "Quiet Wireless Headphones v2", "category": "headphones",
         "price": 179.0, "attributes": {"wireless": True}},
        {"title": "Desk Lamp", "category": "home", "price": 35, "rating": 4.0,
         "image_url": "https://s.example/lamp.jpg"},
    ]  # fmt: skip
    jsonl = tmp_path / "more.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    result = await run(cli_env, "products", "import", str(jsonl), "--no-embed")
    assert result.exit_code == 0, result.output
    assert "1 added, 1 updated" in result.output

    settings = make_settings()
    found = await _search(settings, q="headphones")
    assert {p["id"] for p in found} == {"hp-1", "hp-2"}
    by_id = {p["id"]: p for p in await _search(settings, limit=50)}
    assert by_id["hp-1"]["price"] == 179.0 and by_id["hp-1"]["title"].endswith("v2")
    assert by_id["hp-2"]["category"] == "headphones" and by_id["hp-2"]["url"] is None
    assert by_id["mug-1"]["currency"] == "USD"
    lamp = [p for p in by_id.values() if p["title"] == "Desk Lamp"]
    assert len(lamp) == 1 and str(lamp[0]["id"]).startswith("p-")

    # --replace: the catalog becomes exactly the file.
    result = await run(cli_env, "products", "import", str(jsonl), "--replace", "--no-embed")
    assert result.exit_code == 0 and "4 removed" in result.output
    assert len(await _search(settings, limit=50)) == 2


async def test_bad_rows_are_reported_by_line_and_nothing_is_written(
    cli_env: Callable[..., Result], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV, encoding="utf-8")
    result = await run(cli_env, "products", "import", str(bad), "--no-embed")
    assert result.exit_code == 2
    out = result.output
    assert "4 bad row(s), nothing imported" in out
    assert "line 3: title:" in out
    assert "line 4: price: Input should be greater than or equal to 0" in out
    assert "line 5: url:" in out
    assert "line 6: duplicate id 'ok-1' (first on line 2)" in out
    assert "line 2" not in out.replace("first on line 2", "")

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a", "title": "A", "category": "c", "price": 1}\n{oops\n[1]\n'
                      '{"id": "b", "title": "B", "category": "c", "price": 1, "colour": "red"}\n',
                      encoding="utf-8")  # fmt: skip
    result = await run(cli_env, "products", "import", str(broken), "--no-embed")
    assert result.exit_code == 2
    assert "line 2: not valid JSON" in result.output
    assert "line 3: each line must be one JSON object" in result.output
    assert "line 4: colour: Extra inputs are not permitted" in result.output

    header = tmp_path / "header.csv"
    header.write_text("title,price,colour\nA,1,red\n", encoding="utf-8")
    result = await run(cli_env, "products", "import", str(header), "--no-embed")
    assert result.exit_code == 2 and "line 1: unknown column(s) colour" in result.output

    other = tmp_path / "catalog.xlsx"
    other.write_bytes(b"PK")
    result = await run(cli_env, "products", "import", str(other))
    assert result.exit_code == 2 and "expected a .csv or .jsonl file" in result.output

    assert await _search(make_settings(), limit=50) == []


async def test_demo_catalog(
    cli_env: Callable[..., Result], make_settings: Callable[..., Settings]
) -> None:
    result = await run(cli_env, "products", "demo", "--count", "24", "--seed", "5")
    assert result.exit_code == 0, result.output
    assert "demo catalog (seed 5): 24 added, 0 updated (24 embedded)" in result.output
    again = await run(cli_env, "products", "demo", "--count", "24", "--seed", "5", "--no-embed")
    assert "0 added, 24 updated" in again.output
    items = await _search(make_settings(), q="something to sit on at my desk all day", limit=3)
    assert items[0]["category"] == "office-chairs"
