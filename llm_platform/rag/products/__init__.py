"""The product catalog's search: ranking (keyword + vector, fused), the database-backed
`ProductSearch` and the SerpAPI Google Shopping adapter."""

from llm_platform.rag.products.catalog import CatalogFacts, ProductSearch
from llm_platform.rag.products.ranking import CatalogIndex, CatalogItem, Filters
from llm_platform.rag.products.serpapi import SerpApiError, SerpApiShopping

__all__ = [
    "CatalogFacts",
    "CatalogIndex",
    "CatalogItem",
    "Filters",
    "ProductSearch",
    "SerpApiError",
    "SerpApiShopping",
]
