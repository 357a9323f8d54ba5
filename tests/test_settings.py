"""Settings fail loudly where it matters: no server without a secret key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(code: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    return subprocess.run(
        [sys.executable, *code],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_server_refuses_to_start_without_a_secret_key() -> None:
    result = run(["-c", "import config.wsgi"], DEBUG="0")
    assert result.returncode != 0
    assert "The SECRET_KEY setting must not be empty" in result.stderr


def test_maintenance_commands_run_without_a_secret_key() -> None:
    result = run(["manage.py", "makemigrations", "--check", "--dry-run"], DEBUG="0")
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


def test_debug_needs_no_key_and_a_bad_boolean_is_named() -> None:
    assert run(["-c", "import config.wsgi"], DEBUG="1").returncode == 0
    bad = run(["manage.py", "check"], DEBUG="maybe")
    assert bad.returncode != 0
    assert "DEBUG must be a boolean (1/0, true/false), not 'maybe'" in bad.stderr
