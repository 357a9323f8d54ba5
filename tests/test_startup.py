"""Start-up stays light: loading the URLconf, and the commands that touch no text, table or
figure, do not import spaCy, pandas, scipy, matplotlib, scikit-learn or python-docx. Those take
seconds and a few hundred megabytes to load; the first request or command that needs one pays
for it once.

Each case runs in a fresh interpreter (this test process has long imported them all) and asserts
on `sys.modules`, so the result does not depend on how fast the machine is. When one fails,
`python -X importtime -c "import django; django.setup(); import config.urls"` shows which module
imported the library.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("spacy", "pandas", "scipy", "matplotlib", "sklearn", "docx")

# Prints the heavy libraries loaded once `code` has run (also when it ends with SystemExit, as
# `--help` does).
PROBE = """
import json, sys
try:
{code}
except SystemExit:
    pass
finally:
    heavy = {heavy!r}
    sys.stdout.write("\\nLOADED " + json.dumps([name for name in heavy if name in sys.modules]))
"""

RESOLVE_URLS = """
import django
django.setup()
from django.urls import resolve, reverse
import config.urls
for name, args in [
    ("health", []),
    ("login", []),
    ("studies:overview", ["demo"]),
    ("coding:codebook", ["demo"]),
    ("exports:page", ["demo"]),
    ("surveys:list", ["demo"]),
    ("study-reliability", ["demo"]),
]:
    resolve(reverse(name, args=args))
"""


def loaded_after(code: str, tmp_path: Path, **env_vars: str) -> list[str]:
    """The heavy libraries a fresh interpreter has imported after running `code`."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "startup-test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'startup.sqlite3'}",
        "COLLOQUY_PRELOAD": "0",
        **env_vars,
    }
    indented = "\n".join("    " + line for line in code.strip().splitlines())
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=indented, heavy=HEAVY)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    marker = result.stdout.rsplit("\nLOADED ", 1)
    assert len(marker) == 2, f"no report from the probe:\n{result.stdout}\n{result.stderr}"
    return json.loads(marker[1])


def command(*args: str) -> str:
    return (
        "from django.core.management import execute_from_command_line\n"
        f"execute_from_command_line(['manage.py', *{list(args)!r}])"
    )


def test_the_urlconf_loads_and_resolves_without_heavy_libraries(tmp_path: Path) -> None:
    assert loaded_after(RESOLVE_URLS, tmp_path) == []


@pytest.mark.parametrize(
    "args",
    [
        ("create_study", "--help"),
        ("import_roster", "--help"),
        ("help",),
        ("check",),
    ],
    ids=" ".join,
)
def test_a_light_command_starts_without_heavy_libraries(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    assert loaded_after(command(*args), tmp_path) == []


def test_building_a_table_still_loads_pandas(tmp_path: Path) -> None:
    # The probe itself can see a library being loaded: the tables' module needs pandas.
    code = RESOLVE_URLS + "import exports.tables\n"
    assert "pandas" in loaded_after(code, tmp_path)


PRELOAD = """
import django
django.setup()
from config.preload import preload_heavy_modules
thread = preload_heavy_modules()
if thread is not None:
    thread.join(timeout=100)
"""


def test_a_worker_preloads_the_heavy_libraries_when_asked(tmp_path: Path) -> None:
    loaded = loaded_after(PRELOAD, tmp_path, COLLOQUY_PRELOAD="1")
    assert {"spacy", "pandas", "scipy", "matplotlib"} <= set(loaded)


def test_without_preload_a_worker_loads_them_on_first_use_only(tmp_path: Path) -> None:
    assert loaded_after(PRELOAD, tmp_path) == []
