from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from llm_platform.db.models import Product, utcnow
from llm_platform.db.repositories.base import Repository

_CHUNK = 500


class ProductRepository(Repository[Product]):
    model = Product

    async def version(self) -> tuple[int, datetime | None]:
        """(rows, latest write): changes whenever an import adds, changes or removes rows."""
        stmt = select(func.count(Product.id), func.max(Product.updated_at))
        count, latest = (await self.session.execute(stmt)).one()
        return int(count), latest

    async def all(self) -> Sequence[Product]:
        return (await self.session.scalars(select(Product).order_by(Product.id))).all()

    async def upsert(self, rows: Sequence[dict[str, Any]]) -> tuple[int, int]:
        """Insert new ids, overwrite existing ones (keeping `created_at`): (added, updated)."""
        now = utcnow()
        added = updated = 0
        for start in range(0, len(rows), _CHUNK):
            batch = rows[start : start + _CHUNK]
            ids = [row["id"] for row in batch]
            existing = {
                p.id: p
                for p in await self.session.scalars(select(Product).where(Product.id.in_(ids)))
            }
            for row in batch:
                current = existing.get(row["id"])
                if current is None:
                    self.session.add(Product(**row, created_at=now, updated_at=now))
                    added += 1
                else:
                    for key, value in row.items():
                        setattr(current, key, value)
                    current.updated_at = now
                    updated += 1
            await self.session.flush()
        return added, updated

    async def delete_all(self) -> int:
        result = await self.session.execute(delete(Product))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def set_embeddings(self, vectors: dict[str, bytes], model: str) -> None:
        """Store vectors computed later (the index fills in missing ones); `updated_at` is
        left alone, so the catalog's version does not change."""
        for product_id, blob in vectors.items():
            await self.session.execute(
                update(Product)
                .where(Product.id == product_id)
                .values(embedding=blob, embedding_model=model)
            )
