"""Dockerfile and compose.yaml: Docker is not needed to check that every service runs
something that exists and that the image has the properties production needs."""

import importlib
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _command(service: dict) -> list[str]:
    command = service.get("command")
    return shlex.split(command) if isinstance(command, str) else list(command or [])


def test_compose_has_every_part_of_the_tracker(compose):
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "beat"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    # Every queue the README names has a worker of its own.
    queues = set()
    for service in services.values():
        command = _command(service)
        if command[:4] == ["celery", "-A", "config", "worker"]:
            queues.update(command[command.index("-Q") + 1].split(","))
    assert queues == {queue.name for queue in settings.CELERY_TASK_QUEUES}
    # Exactly one beat, and the one-shot migrate gates the rest.
    beats = [name for name, s in services.items() if "beat" in _command(s)]
    assert beats == ["beat"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "beat", "worker-send"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_every_service_command_names_a_real_entry_point(compose):
    commands = get_commands()
    checked = 0
    for name, service in compose["services"].items():
        if "image" in service and "build" not in service:
            continue  # postgres, redis: their images' own entry points
        command = _command(service)
        assert command, f"{name} has no command"
        program = command[0]
        if program == "python":
            assert command[1] == "manage.py" and (ROOT / "manage.py").exists()
            assert command[2] in commands, f"{name}: no manage.py command {command[2]!r}"
        elif program == "celery":
            app_module = command[command.index("-A") + 1]
            module = importlib.import_module(f"{app_module}.celery_app")
            assert module.app.main == "tracker"
            assert command[3] in ("worker", "beat"), f"{name}: {command[3]!r}"
        elif program == "gunicorn":
            module = importlib.import_module(command[1])
            assert callable(module.application), f"{name}: {command[1]} has no application"
        else:
            pytest.fail(f"{name} runs {program!r}, which this test does not know")
        checked += 1
    assert checked == 7  # migrate, web, four workers, beat


def test_secrets_come_from_the_environment_and_are_required(compose):
    environment = compose["x-tracker"]["environment"]
    for name in (
        "SECRET_KEY",
        "FIELD_ENCRYPTION_KEY",
        "EMAIL_URL",
        "ALLOWED_HOSTS",
        "SITE_URL",
        "DEFAULT_FROM_EMAIL",
    ):
        assert re.fullmatch(rf"\$\{{{name}:\?.+\}}", environment[name]), name
    assert environment["DJANGO_SETTINGS_MODULE"] == "config.settings.production"


def test_dockerfile_is_slim_unprivileged_and_collects_static_files():
    text = (ROOT / "Dockerfile").read_text()
    instructions = [
        line.split(None, 1) for line in text.splitlines() if line and not line.startswith("#")
    ]
    froms = [rest for word, *rest in instructions if word == "FROM"]
    assert froms and all("slim" in rest[0] for rest in froms)
    users = [rest[0].strip() for word, *rest in instructions if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert "manage.py collectstatic --noinput" in text
    cmd = next(rest[0] for word, *rest in reversed(instructions) if word == "CMD")
    assert '"gunicorn", "config.wsgi"' in cmd
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "var", ".env"} <= set(ignored)


def _docker_compose_available() -> bool:
    try:
        return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not _docker_compose_available(), reason="docker compose is not installed")
def test_docker_compose_config_accepts_the_file():
    env = {
        **os.environ,
        **{name: "dummy" for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "POSTGRES_PASSWORD")},
        "EMAIL_URL": "smtp://mail:25",
        "ALLOWED_HOSTS": "tracker.example.com",
        "SITE_URL": "https://tracker.example.com",
        "DEFAULT_FROM_EMAIL": "Tracker <alerts@tracker.example.com>",
    }
    result = subprocess.run(
        ["docker", "compose", "config", "--quiet"], cwd=ROOT, env=env, capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def _docker_daemon_available() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not _docker_daemon_available(), reason="no Docker daemon to build with")
def test_the_image_builds():
    result = subprocess.run(
        ["docker", "build", "--quiet", "--tag", "milestone-tracker:test", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
