"""The product catalog: imported rows (`ProductIn`), the cards the API, the product agent
and the stream frames show (`ProductCard`), search results."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from llm_platform.core.identifiers import ID_PATTERN
from llm_platform.schemas.common import Schema

MAX_ATTRIBUTES = 50
Text = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^\x00]*$")]
Url = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2048, pattern=r"^https?://\S+$")
]
AttributeValue = str | int | float | bool | list[str]


class ProductIn(Schema):
    """One catalog row as `products import` reads it (CSV or JSON Lines)."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)]
    title: Annotated[Text, Field(min_length=1, max_length=300)]
    description: Annotated[Text, Field(max_length=5000)] = ""
    category: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9 &/_-]*$")
    ]
    price: Annotated[float, Field(ge=0, le=1e9)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"
    url: Url | None = None
    image_url: Url | None = None
    rating: Annotated[float | None, Field(ge=0, le=5)] = None
    attributes: dict[Annotated[str, Field(min_length=1, max_length=64)], AttributeValue] = Field(
        default_factory=dict, max_length=MAX_ATTRIBUTES
    )

    @field_validator("category", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("currency", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("price")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class ProductCard(Schema):
    id: str
    title: str
    price: float
    currency: str
    category: str
    url: str | None
    image_url: str | None
    rating: float | None
    description: str
    source: str = Field(description='"local" (the catalog) or "serpapi" (Google Shopping)')


class ProductHit(ProductCard):
    score: float = Field(description="Fused rank score (reciprocal-rank fusion); 0 unranked")
    matched_by: list[str] = Field(
        default_factory=list, description='"keyword", "vector": the rankings that found it'
    )


class ProductSearchResponse(Schema):
    items: list[ProductHit]


class ProductDetail(ProductCard):
    attributes: dict[str, Any] = Field(default_factory=dict)
