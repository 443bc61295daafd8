"""`llm-platform products demo`: a small generated catalog (the templates of
`templates.py` and a seeded random generator): 8 categories of made-up brands with
realistic attributes, prices that follow them and descriptions assembled from them."""

from __future__ import annotations

import random

from llm_platform.schemas.products import ProductIn
from llm_platform.services.products.templates import (
    BACKPACKS,
    CHAIRS,
    COFFEE,
    HEADPHONES,
    LAPTOPS,
    PHONES,
    SHOES,
    TVS,
)

TEMPLATES = (LAPTOPS, HEADPHONES, PHONES, SHOES, COFFEE, BACKPACKS, CHAIRS, TVS)
CATEGORIES = tuple(t.category for t in TEMPLATES)


def demo_catalog(count: int = 200, seed: int = 7) -> list[ProductIn]:
    """`count` products over the categories in turn, the same for the same seed."""
    rng = random.Random(seed)
    products = []
    for n in range(count):
        template = TEMPLATES[n % len(TEMPLATES)]
        attrs = {k: v for k, v in template.attributes(rng).items() if v is not None}
        brand = rng.choice(template.brands)
        line = rng.choice(template.lines)
        price = max(9.0, template.price(attrs, rng))
        product_id = f"demo-{n + 1:04d}"
        products.append(
            ProductIn(
                id=product_id,
                title=template.title(brand, line, attrs),
                description=template.description(attrs),
                category=template.category,
                price=round(price) - 0.01,
                currency="USD",
                url=f"https://shop.example/{template.category}/{product_id}",
                image_url=f"https://shop.example/img/{product_id}.jpg",
                rating=round(rng.uniform(3.2, 4.9), 1),
                attributes={"brand": brand, **attrs},
            )
        )
    return products
