"""Schemathesis generates requests from our own OpenAPI schema and sends them, as an owner and
as a coder, to the project's WSGI application: no request may cause a server error, and every
response must match the schema. The number of generated examples per operation is bounded to
keep CI quick (the coverage phase adds its boundary cases to them).

The requests go through the whole WSGI stack (every middleware, token authentication) in the
test's own thread and transaction, rather than over a socket to a live server: a live server
opens a database connection per request and the database is emptied after every test, which
on PostgreSQL made these 200 tests take twice as long as on SQLite."""

from __future__ import annotations

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
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
def application() -> object:
    """The WSGI application as a server runs it, except that a request does not close the
    test's database connection (what Django's own test client does too)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(db: None) -> dict[str, str]:
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
def test_no_request_breaks_the_api(case, role: str, application, tokens) -> None:
    case.call_and_validate(
        app=application,
        base_url="http://testserver",
        headers={"Authorization": f"Token {tokens[role]}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
