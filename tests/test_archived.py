"""An archived study is read-only for everyone, owners included, until an owner restores it:
the rule is decided once (studies.access.require_role) and every write path asks it."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from coding.models import Code, Coding, Memo
from coding.services import CodingSpan, apply_codings
from studies.access import ARCHIVED
from studies.models import Document, Study
from tests.helpers import client_for


@pytest.fixture
def archived(document: Document, codes: dict[str, Code]) -> Study:
    study = document.study
    study.archived_at = timezone.now()
    study.save(update_fields=["archived_at"])
    return study


def post_json(client: object, url: str, data: object) -> object:
    return client.post(url, json.dumps(data), content_type="application/json")


def test_members_still_read_an_archived_study(
    archived: Study, document: Document, people: dict[str, User]
) -> None:
    for name in ("alice", "bob", "victor"):
        client = client_for(people[name])
        assert client.get(reverse("studies:overview", args=[archived.slug])).status_code == 200
        assert client.get(f"/api/v1/codings/?document={document.pk}").status_code == 200
    workbench = client_for(people["bob"]).get(
        reverse("coding:workbench", args=[archived.slug, document.pk])
    )
    assert workbench.context["data"]["canCode"] is False


def test_nothing_is_written_to_an_archived_study(
    archived: Study, document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    span = {"document": document.pk, "code": codes["negotiability"].pk, "start": 0, "end": 5}
    for name in ("alice", "bob"):
        client = client_for(people[name])
        refused = post_json(client, "/api/v1/codings/", span)
        assert refused.status_code == 403
        assert refused.json()["detail"] == ARCHIVED
        assert post_json(client, "/api/v1/codings/bulk/", [span]).status_code == 403
        memo = post_json(client, "/api/v1/memos/", {"study": archived.slug, "text": "x"})
        assert memo.status_code == 403
    owner = client_for(people["alice"])
    assert (
        owner.post(reverse("coding:code_new", args=[archived.slug]), {"name": "new"}).status_code
        == 403
    )
    codes_url = f"/api/v1/studies/{archived.slug}/codes/"
    assert post_json(owner, codes_url, {"name": "new"}).status_code == 403
    assert not Coding.objects.exists()
    assert not Memo.objects.exists()
    assert not Code.objects.filter(name="new").exists()
    with pytest.raises(Exception, match="archived"):
        apply_codings(
            user=people["alice"],
            spans=[CodingSpan(document.pk, codes["negotiability"].pk, 0, 5)],
        )
