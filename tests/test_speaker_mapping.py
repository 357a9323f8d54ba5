"""Mapping a speaker the roster does not know, in the transcript import's review: the
transcript's own workshop is offered first, the study's other participants after it, grouped
by workshop and labelled as such."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from studies.models import Document, Study
from tests.helpers import client_for

GB_TXT = """Facilitator: Should a bank explain a refusal?
Amara: It should, and to a person.
Guest: May I add something?
"""


def test_the_speaker_list_offers_the_workshops_participants_first(
    roster_study: Study, people: dict[str, User]
) -> None:
    client = client_for(people["alice"])
    gb = roster_study.workshops.get(code="GB-1")
    response = client.post(
        reverse("studies:import", args=["adm"]),
        {
            "transcripts": "1",
            "t-workshop": gb.pk,
            "t-files": [SimpleUploadedFile("GB-1.txt", GB_TXT.encode())],
            "t-language": "",
        },
    )
    review_url = response["Location"]
    html = client.get(review_url).content.decode()

    select = html.split('name="speaker_0"', 1)[1].split("</select>", 1)[0]
    groups = re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', select, re.S)
    offered = [(label, re.findall(r'<option value="([^"]+)"', body)) for label, body in groups]
    assert offered == [
        ("GB-1 (this workshop)", ["P04", "P05"]),
        ("FI-1 (another workshop)", ["P01", "P02", "P03"]),
    ]
    # Before the groups: the prompt and "not a participant".
    assert select.index('value="-"') < select.index("<optgroup")

    done = client.post(review_url, {"confirm": "1", "speaker_0": "P05"}, follow=True)
    assert "Imported 1 transcript" in done.content.decode()
    # The web import pseudonymises: a participant's turns are labelled with their code.
    turn = Document.objects.get().turns.get(speaker="P05")
    assert turn.participant.code == "P05"
