"""Schemathesis generates requests from our own OpenAPI schema and sends them, as an owner and
as a coder, to the live test server: no request may cause a server error, and every response
must match the schema. The number of examples per operation is bounded to keep CI quick."""

from __future__ import annotations

import pytest
import schemathesis
from django.contrib.auth.models import User
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from coding.models import Code, Coding
from studies.models import Study
from studies.services import import_roster, import_transcripts
from studies.tokens import issue_token
from tests.conftest import ROSTER
from tests.test_transcript_import import FI_TXT

# The schema is generated in-process at collection time (the same document /api/schema/ serves).
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))

EXAMPLES = 8


@pytest.fixture
def tokens(transactional_db: None) -> dict[str, str]:
    """A small study with a roster, a transcript, a codebook and codings of two coders."""
    alice = User.objects.create_user("alice", password="pw-alice-123")
    bob = User.objects.create_user("bob", password="pw-bob-123")
    study = Study.objects.create(slug="adm", name="ADM")
    study.memberships.create(user=alice, role="owner")
    study.memberships.create(user=bob, role="coder")
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    [outcome] = import_transcripts(
        study=study,
        workshop=study.workshops.get(code="FI-1"),
        files=[("FI-1.txt", FI_TXT.encode())],
    )
    concept = Code.objects.create(study=study, name="Concept", codable=False)
    code = Code.objects.create(study=study, parent=concept, name="negotiability")
    for user in (alice, bob):
        Coding.objects.create(document=outcome.document, code=code, coder=user, start=6, end=20)
    return {
        role: issue_token(user, name="fuzz")[1] for role, user in (("owner", alice), ("coder", bob))
    }


@pytest.mark.parametrize("role", ["owner", "coder"])
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_breaks_the_api(case, role: str, live_server, tokens) -> None:
    case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"Token {tokens[role]}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
