"""The layers point one way (docs: GUIDE, README architecture): checked on the source's
import statements (module level and inside functions alike), not on what happens to be
imported at run time."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "llm_platform"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every `llm_platform` import in the file, relative ones resolved."""
    package = path.relative_to(PACKAGE.parent).parent.parts
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            # `from llm_platform import services` names a package too
            found.extend((node.lineno, f"{name}.{alias.name}") for alias in node.names)
    return [(line, name) for line, name in found if name.split(".")[0] == "llm_platform"]


def _layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def violations(layer: str, forbidden: set[str], *, prefix: str | None = None) -> list[str]:
    """`file:line module` for each import from `layer` into a forbidden layer (or, with
    `prefix`, into a module under that dotted prefix)."""
    out = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for line, name in _imports(path):
            hit = name.startswith(prefix) if prefix else _layer(name) in forbidden
            if hit:
                out.append(f"{path.relative_to(PACKAGE.parent)}:{line} {name}")
    return sorted(set(out))


ABOVE_CORE = {"api", "services", "db", "providers", "rag", "middleware", "agents", "schemas"}
ABOVE_CORE |= {"main", "composition", "app_state", "cli", "server", "web"}


def test_core_imports_nothing_above_it() -> None:
    assert violations("core", ABOVE_CORE) == []


def test_lower_layers_import_no_routes() -> None:
    """services, db, providers, rag and middleware never reach up into the routes or the
    app's wiring."""
    wiring = {"api", "main", "composition", "cli", "web"}
    for layer in ("services", "db", "providers", "rag"):
        assert violations(layer, wiring) == [], layer


def test_storage_and_providers_import_no_services() -> None:
    for layer in ("db", "providers"):
        assert violations(layer, {"services", "rag", "middleware"}) == [], layer


def test_api_imports_no_repositories() -> None:
    assert violations("api", set(), prefix="llm_platform.db.repositories") == []
