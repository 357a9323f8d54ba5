"""The production configuration: `manage.py check --deploy` is clean with the documented
environment (deploy/colloquy.env.example), HTTPS turns on what it should, and every page is
sent with the Content Security Policy."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from studies.models import Study
from tests.helpers import client_for

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "deploy" / "colloquy.env.example"


def documented_environment() -> dict[str, str]:
    """deploy/colloquy.env.example as systemd reads it, with a fresh secret key."""
    env = {}
    for line in EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    return env


def run(code: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    # Nothing from the test run's own environment but what Python needs to start.
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return subprocess.run(
        [sys.executable, *code],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


SHOW = """
import django, json
django.setup()
from django.conf import settings as s
print(json.dumps({name: getattr(s, name, None) for name in [
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER",
    "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_AGE", "SESSION_EXPIRE_AT_BROWSER_CLOSE",
    "SECURE_REFERRER_POLICY", "SECURE_REDIRECT_EXEMPT", "AXES_FAILURE_LIMIT",
    "AXES_LOCKOUT_PARAMETERS", "AXES_IPWARE_PROXY_COUNT", "LOG_FORMAT",
]}, default=str))
"""


def settings_with(env: dict[str, str]) -> dict[str, object]:
    result = run(["-c", SHOW], {"DJANGO_SETTINGS_MODULE": "config.settings", **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_is_clean_with_the_documented_environment() -> None:
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], documented_environment()
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stderr


def test_check_deploy_names_what_is_missing_without_https() -> None:
    env = documented_environment() | {"COLLOQUY_HTTPS": "0", "SECURE_HSTS_PRELOAD": "0"}

    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr


def test_https_turns_on_secure_cookies_redirects_and_hsts() -> None:
    shown = settings_with(documented_environment())

    assert shown["SESSION_COOKIE_SECURE"] is True
    assert shown["CSRF_COOKIE_SECURE"] is True
    assert shown["SECURE_SSL_REDIRECT"] is True
    assert shown["SECURE_REDIRECT_EXEMPT"] == ["^health/$"]
    assert shown["SECURE_HSTS_SECONDS"] == 31536000
    assert shown["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert shown["SECURE_HSTS_PRELOAD"] is True
    assert shown["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert shown["SESSION_COOKIE_HTTPONLY"] is True
    assert shown["SESSION_COOKIE_AGE"] == 14 * 24 * 3600
    assert shown["SECURE_REFERRER_POLICY"] == "same-origin"
    assert shown["AXES_FAILURE_LIMIT"] == 5
    assert shown["AXES_LOCKOUT_PARAMETERS"] == [["username", "ip_address"]]
    assert shown["AXES_IPWARE_PROXY_COUNT"] == 1
    assert shown["LOG_FORMAT"] == "json"


def test_a_laptop_install_stays_on_plain_http() -> None:
    shown = settings_with({"DEBUG": "1"})

    assert shown["SESSION_COOKIE_SECURE"] is False
    assert shown["SECURE_SSL_REDIRECT"] is False
    assert shown["SECURE_HSTS_SECONDS"] == 0
    assert shown["SECURE_PROXY_SSL_HEADER"] is None


def test_each_setting_can_be_changed_and_a_bad_value_is_named() -> None:
    shown = settings_with(
        {
            "DEBUG": "1",
            "COLLOQUY_HTTPS": "1",
            "SECURE_HSTS_SECONDS": "3600",
            "SESSION_COOKIE_AGE": "28800",
            "SESSION_EXPIRE_AT_BROWSER_CLOSE": "1",
            "AXES_FAILURE_LIMIT": "10",
        }
    )
    assert shown["SECURE_HSTS_SECONDS"] == 3600
    assert shown["SESSION_COOKIE_AGE"] == 28800
    assert shown["SESSION_EXPIRE_AT_BROWSER_CLOSE"] is True
    assert shown["AXES_FAILURE_LIMIT"] == 10

    for name, value, message in [
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be json or text, not 'xml'"),
        ("AXES_FAILURE_LIMIT", "0", "AXES_FAILURE_LIMIT and AXES_COOLOFF_MINUTES must be"),
        ("COLLOQUY_HTTPS", "maybe", "COLLOQUY_HTTPS must be a boolean"),
    ]:
        bad = run(["manage.py", "check"], {"DEBUG": "1", name: value})
        assert bad.returncode != 0
        assert message in bad.stderr


def test_the_deployment_guide_names_every_variable_the_settings_read() -> None:
    settings_source = (ROOT / "config" / "settings.py").read_text()
    read = set(
        re.findall(
            r"(?:envbool|envint|envrate|envlist|envjson|os\.getenv)\(\s*\"([A-Z_]+)\"",
            settings_source,
        )
    )
    guide = (ROOT / "docs" / "deploy.md").read_text()

    assert {"SECRET_KEY", "COLLOQUY_MEDIA_STORAGE", "COLLOQUY_TASKS"} <= read
    assert sorted(name for name in read if f"`{name}`" not in guide) == []


def command_of(line: str) -> list[str]:
    """A unit's or Procfile's command as run from the code's folder with this virtualenv."""
    words = line.replace("/srv/colloquy/app/", "").split()
    words = [w for w in words if not w.startswith("GUNICORN_BIND=")]
    if words[0] in (".venv/bin/python", "python"):
        return [sys.executable, *words[1:]]
    if words[0] in (".venv/bin/gunicorn", "gunicorn"):
        return [str(Path(sys.executable).with_name("gunicorn")), *words[1:]]
    raise AssertionError(f"unexpected command: {line}")


def test_the_units_and_the_procfile_run_what_the_code_has() -> None:
    env = documented_environment()
    commands = {}
    for unit in ("colloquy-web.service", "colloquy-worker.service", "colloquy-cleanup.service"):
        text = (ROOT / "deploy" / unit).read_text()
        assert "EnvironmentFile=/etc/colloquy/colloquy.env" in text
        [start] = [line for line in text.splitlines() if line.startswith("ExecStart=")]
        commands[unit] = command_of(start.removeprefix("ExecStart="))
    for line in (ROOT / "deploy" / "Procfile").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, command = line.partition(": ")
            commands[f"Procfile {name}"] = command_of(command)

    for where, command in commands.items():
        if Path(command[0]).name == "gunicorn":
            assert command[1:] == ["-c", "config/gunicorn.py", "config.wsgi"], where
            result = subprocess.run(
                [*command, "--check-config"],
                cwd=ROOT,
                env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")} | env,
                capture_output=True,
                text=True,
                timeout=120,
            )
        else:
            assert command[1] == "manage.py", where
            result = run(["manage.py", "help", command[2]], env)
        assert result.returncode == 0, f"{where}: {result.stderr}"
    assert {name for name in commands if name.startswith("Procfile")} == {
        "Procfile release",
        "Procfile web",
        "Procfile worker",
    }


# --- The Content Security Policy, as the browser receives it ----------------------------------


def policy(response: object) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.django_db
def test_every_page_is_sent_with_the_policy() -> None:
    response = Client().get("/login/")

    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["style-src-attr"] == ["'unsafe-inline'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["base-uri"] == ["'self'"]
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_a_style_element_carries_the_nonce_the_policy_names(
    study: Study, people: dict[str, User]
) -> None:
    response = client_for(people["alice"]).get(f"/studies/{study.slug}/codebook/")

    assert response.status_code == 200
    [nonce] = [v for v in policy(response)["style-src"] if v.startswith("'nonce-")]
    html = response.content.decode()
    assert f'<style nonce="{nonce[7:-1]}">' in html
    assert "<style>" not in html


@pytest.mark.django_db
def test_no_page_template_has_inline_script_or_event_handlers() -> None:
    # The browser tests see what the policy blocks on the pages they visit; this sees every
    # template, visited or not.
    offenders = []
    for template in sorted(ROOT.glob("*/templates/**/*.html")) + sorted(
        (ROOT / "templates").glob("**/*.html")
    ):
        if ".venv" in template.parts:
            continue
        text = template.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            offenders.append(f"{template.relative_to(ROOT)}: inline <script>")
        if re.search(r"\son[a-z]+\s*=\s*[\"']", text):
            offenders.append(f"{template.relative_to(ROOT)}: an on...= event handler")
        if re.search(r"<style(?![^>]*\bnonce=)[^>]*>", text):
            offenders.append(f"{template.relative_to(ROOT)}: <style> without the nonce")
    assert offenders == []
