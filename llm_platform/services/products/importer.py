"""`llm-platform products import FILE.csv|jsonl`: every row validated first (errors reported
with their line numbers, nothing written while any row is bad), then written in one
transaction with its embedding."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llm_platform.core.errors import ValidationFailed
from llm_platform.core.logging import get_logger
from llm_platform.db.engine import Database
from llm_platform.db.repositories.products import ProductRepository
from llm_platform.rag.embeddings import Embedder
from llm_platform.rag.products.catalog import embed_items
from llm_platform.rag.products.ranking import CatalogItem
from llm_platform.schemas.products import ProductIn

log = get_logger("llm_platform.products")

COLUMNS = ("id", "title", "description", "category", "price", "currency", "url", "image_url",
           "rating", "attributes")  # fmt: skip
ATTRIBUTE_PREFIX = "attributes."
MAX_ROWS = 100_000
MAX_REPORTED = 50


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportRejected(ValidationFailed):
    """The file has bad rows: none of it was imported."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        shown = [str(e) for e in errors[:MAX_REPORTED]]
        more = len(errors) - len(shown)
        tail = [f"... and {more} more"] if more > 0 else []
        super().__init__("\n".join([f"{len(errors)} bad row(s), nothing imported:", *shown, *tail]))
        self.errors = list(errors)


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    removed: int = 0
    embedded: int = 0
    warnings: list[str] = field(default_factory=list)


def _derived_id(row: dict[str, Any]) -> str:
    key = "|".join(str(row.get(k) or "") for k in ("title", "category", "url"))
    return "p-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _scalar(text: str) -> str | int | float | bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def _messages(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(parts)


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    unknown = [h for h in header if h not in COLUMNS and not h.startswith(ATTRIBUTE_PREFIX)]
    if not header or unknown:
        what = f"unknown column(s) {', '.join(unknown)}" if unknown else "no header row"
        yield 1, RowError(1, f"{what}; columns are {', '.join(COLUMNS)} and attributes.<name>")
        return
    reader.fieldnames = header
    previous_end = 1
    for raw in reader:
        line = previous_end + 1
        previous_end = reader.line_num
        if None in raw:
            yield line, RowError(line, "more fields than the header names")
            continue
        if all(not (v or "").strip() for v in raw.values()):
            continue
        row: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        try:
            for key, value in raw.items():
                value = (value or "").strip()
                if key.startswith(ATTRIBUTE_PREFIX):
                    if value:
                        attributes[key[len(ATTRIBUTE_PREFIX) :]] = _scalar(value)
                elif key == "attributes":
                    if value:
                        parsed = json.loads(value)
                        if not isinstance(parsed, dict):
                            raise ValueError("attributes must be a JSON object")
                        attributes.update(parsed)
                elif value:
                    row[key] = value
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            yield line, RowError(line, f"attributes: {exc}")
            continue
        row["attributes"] = attributes
        yield line, row


def _jsonl_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield line, RowError(line, f"not valid JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            yield line, RowError(line, "each line must be one JSON object")
            continue
        yield line, row


def parse_products(text: str, fmt: str) -> list[ProductIn]:
    """Every row of a CSV or JSON Lines text, validated; ImportRejected lists the bad ones."""
    rows = _csv_rows(text) if fmt == "csv" else _jsonl_rows(text)
    products: list[ProductIn] = []
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        if isinstance(row, RowError):
            errors.append(row)
            continue
        if len(products) + len(errors) >= MAX_ROWS:
            errors.append(RowError(line, f"more than {MAX_ROWS} rows: split the file"))
            break
        if not row.get("id"):
            row["id"] = _derived_id(row)
        try:
            product = ProductIn.model_validate(row)
        except ValidationError as exc:
            errors.append(RowError(line, _messages(exc)))
            continue
        if product.id in first_line:
            errors.append(
                RowError(
                    line, f"duplicate id '{product.id}' (first on line {first_line[product.id]})"
                )
            )
            continue
        first_line[product.id] = line
        products.append(product)
    if errors:
        raise ImportRejected(errors)
    if not products:
        raise ImportRejected([RowError(1, "no products in the file")])
    return products


def read_products(path: Path) -> list[ProductIn]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise ValidationFailed(f"{path.name}: expected a .csv or .jsonl file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected([RowError(1, f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise ValidationFailed(f"cannot read {path}: {exc.strerror}") from None
    return parse_products(text, "csv" if suffix == ".csv" else "jsonl")


def _item(product: ProductIn) -> CatalogItem:
    return CatalogItem(**product.model_dump())


async def write_products(
    db: Database,
    embedder: Embedder | None,
    products: Sequence[ProductIn],
    *,
    replace: bool = False,
) -> ImportResult:
    """Upsert the products (with `replace`, the catalog becomes exactly them), embedded by
    `embedder` when it can (otherwise the search index embeds them when it loads)."""
    result = ImportResult()
    blobs: list[bytes | None] = [None] * len(products)
    if embedder is not None:
        try:
            vectors = await embed_items(embedder, [_item(p) for p in products])
            blobs = [v.tobytes() for v in vectors]
            result.embedded = len(products)
        except Exception as exc:
            result.warnings.append(f"embeddings skipped ({exc}); keyword search still works")
            log.warning("product_import_embedding_failed", error=str(exc))
    model = embedder.model_name if embedder is not None and result.embedded else None
    rows = [
        {
            **p.model_dump(),
            "source": "local",
            "embedding": blob,
            "embedding_model": model if blob is not None else None,
        }
        for p, blob in zip(products, blobs, strict=True)
    ]
    async with db.write_sessions() as session, session.begin():
        repo = ProductRepository(session)
        if replace:
            result.removed = await repo.delete_all()
        result.added, result.updated = await repo.upsert(rows)
    return result
