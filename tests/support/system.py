"""System packages some tests need (Debian's tesseract-ocr, espeak-ng, chromium).

`make test` on a fresh machine skips those tests with the reason (shown in pytest's summary,
`-ra`) and the package to install; `.ci/run` installs them all, so on CI (CI=true) a missing
one fails the test instead of hiding it, like Redis in tests/conftest.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest

from llm_platform.rag.extract.ocr import ocr_available


def require_system(available: bool, why: str) -> None:
    """Skip (fail on CI) when a system package is missing."""
    if not available:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} — CI installs it (.ci/run), so it must be there")
        pytest.skip(why)


def _has(command: str) -> Callable[[], bool]:
    return lambda: shutil.which(command) is not None


SYSTEM_PACKAGES: dict[str, tuple[Callable[[], bool], str]] = {
    "tesseract": (
        ocr_available,
        "Tesseract OCR is not installed (apt-get install tesseract-ocr tesseract-ocr-eng)",
    ),
    "espeak-ng": (_has("espeak-ng"), "espeak-ng is not installed (apt-get install espeak-ng)"),
}


def needs_system(*names: str) -> pytest.MarkDecorator:
    """`@needs_system("tesseract")`: checked before the test runs (tests/conftest.py)."""
    unknown = set(names) - set(SYSTEM_PACKAGES)
    if unknown:
        raise ValueError(f"unknown system packages: {sorted(unknown)}")
    return pytest.mark.needs_system(*names)


def check_system_marks(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs_system"):
        for name in mark.args:
            available, why = SYSTEM_PACKAGES[name]
            require_system(available(), why)
