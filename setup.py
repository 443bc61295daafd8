"""Build hook: every sdist and wheel contains the built web UI.

The browser app (TypeScript in web/) is bundled by esbuild into llm_platform/web/static,
which is not committed. Building a distribution (`python -m build`, `pip wheel .`) runs the
npm build first when that bundle is missing, so the wheel serves the UI without Node.js on
the machine that installs it; an sdist carries the built bundle, so a wheel built from it
needs no Node.js either. Editable installs (`make install`) leave it to the Makefile.
Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
WEB = ROOT / "web"
BUNDLE_MANIFEST = ROOT / "llm_platform" / "web" / "static" / "manifest.json"


def ensure_web_bundle() -> None:
    if BUNDLE_MANIFEST.is_file():
        return
    if not (WEB / "package.json").is_file():
        raise SystemExit(
            "The web UI bundle (llm_platform/web/static) is missing and its sources (web/) "
            "are not here to build it"
        )
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "Building the web UI into the package needs Node.js 18+ and npm "
            "(e.g. apt-get install nodejs npm), once, on the machine that builds the wheel"
        )
    if not (WEB / "node_modules" / ".installed").is_file():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB, check=True
        )
    subprocess.run([npm, "run", "--silent", "build"], cwd=WEB, check=True)
    if not BUNDLE_MANIFEST.is_file():
        raise SystemExit("npm run build did not write llm_platform/web/static/manifest.json")


class BuildPy(build_py):
    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            ensure_web_bundle()
        super().run()


class Sdist(sdist):
    def run(self) -> None:
        ensure_web_bundle()
        super().run()


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
