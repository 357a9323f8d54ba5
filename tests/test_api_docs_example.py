"""The example in docs/api.md runs as written against a live server with the demo study."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
from django.contrib.auth.models import User
from django.core.management import call_command
from pytest_django.live_server_helper import LiveServer

from coding.models import Code, Coding
from studies.models import APIToken, Study

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def docs_example(values: dict[str, object]) -> str:
    """The Python of docs/api.md with the variables defined at its top set to `values`."""
    code = "\n".join(PYTHON_BLOCK.findall(DOCS.read_text(encoding="utf-8")))
    assert code, "docs/api.md has no ```python block"
    for name, value in values.items():
        code, count = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", code, flags=re.MULTILINE)
        assert count == 1, f"docs/api.md should set {name} once at the top of its example"
    return code


def test_the_documented_example_pulls_a_table_and_posts_a_coding(
    live_server: LiveServer, transactional_db: None
) -> None:
    call_command("load_demo", "--password", "docs-pass-123", stdout=io.StringIO())
    study = Study.objects.get(slug="demo")
    document = study.documents.order_by("pk").first()
    code = Code.objects.filter(study=study, codable=True).order_by("pk").first()
    alice = User.objects.get(username="alice")
    assert not Coding.objects.filter(coder=alice, document=document, start=0, end=40).exists()

    namespace: dict[str, object] = {}
    source = docs_example(
        {
            "BASE": live_server.url,
            "USERNAME": "alice",
            "PASSWORD": "docs-pass-123",
            "DOCUMENT_ID": document.pk,
            "CODE_ID": code.pk,
        }
    )
    exec(compile(source, str(DOCS), "exec"), namespace)  # noqa: S102 (our own documentation)

    table = namespace["table"]
    assert isinstance(table, pd.DataFrame) and len(table) > 0
    assert {"code_path", "group", "value"} <= set(table.columns)
    assert {"DE", "FI", "GB", "US"} <= set(table["group"])
    coding = Coding.objects.get(coder=alice, document=document, start=0, end=40)
    assert coding.code == code
    assert namespace["coding"]["id"] == coding.pk
    assert APIToken.objects.filter(user=alice, name="docs example").count() == 1
