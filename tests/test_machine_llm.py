"""The LLM engine, against a small OpenAI-compatible server the test starts on the loopback
interface and scripts reply by reply: the prompt carries the codebook and only pseudonymised
text; a good answer becomes the machine's own layer; malformed, partial, wrong, slow and failing
answers each give one clear line and write nothing; every call is in the audit trail."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone

from coding.machine import MachineError
from coding.machine.llm import PROMPT_VERSION, build_prompt, llm_available, suggest_llm
from coding.models import Code, Coding, MachineCoder, MachineScore
from studies.models import AuditEvent, Document, Study
from studies.services import import_transcripts

# Amara and Callum are the roster's P04 and P05 ("Dr. Okafor" is one of Amara's aliases).
GB_TXT = (
    "Facilitator: Welcome. Who has been refused a loan?\n"
    "Amara: Me. Callum said I should appeal, so I wrote to loans@bank.example and called "
    "+44 161 496 0000.\n"
    "Callum: I want to negotiate with a person. Ask Dr. Okafor.\n"
)
# The sentences of GB_TXT, numbered as the prompt numbers them.
WELCOME, WHO, ME, APPEAL, NEGOTIATE, ASK = range(1, 7)
RAW_PERSONAL_DATA = ("Amara", "Callum", "Okafor", "loans@bank.example", "496 0000")


# --- The server -------------------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer: an HTTP status, a body (a dict is sent as JSON), a delay."""

    body: dict | bytes | str
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def completion(
    content: str | dict, *, usage: tuple[int, int] | None = (120, 30), finish: str = "stop"
) -> Reply:
    """A chat completion whose message is `content` (a dict is written as JSON)."""
    text = json.dumps(content) if isinstance(content, dict) else content
    body: dict = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        ],
    }
    if usage:
        body["usage"] = {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        }
    return Reply(body)


def codings(*items: tuple[int, str, float]) -> Reply:
    return completion(
        {"codings": [{"sentence": n, "code": code, "confidence": p} for n, code, p in items]}
    )


class FakeLLM:
    """What the server received (path, headers, raw body, JSON) and what it answers next: a
    Reply, or a function of the request's JSON; the last one is repeated."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.replies: list[Reply | Callable[[dict], Reply]] = []
        self.url = ""

    def script(self, *replies: Reply | Callable[[dict], Reply]) -> None:
        self.replies = list(replies)

    def next_reply(self, request: dict) -> Reply:
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return reply(request) if callable(reply) else reply

    @property
    def raw(self) -> str:
        return "\n".join(r["raw"] for r in self.received)


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            request = json.loads(raw)
            fake.received.append(
                {"path": self.path, "headers": dict(self.headers), "raw": raw, "json": request}
            )
            reply = fake.next_reply(request)
            time.sleep(reply.delay)
            body = reply.body
            data = json.dumps(body).encode() if isinstance(body, dict) else body
            data = data.encode() if isinstance(data, str) else data
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (the slow reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def llm(settings: object, roster_study: Study) -> Iterator[FakeLLM]:
    """The server on 127.0.0.1 at a port of its own, configured as the study's endpoint, and
    the study opted in."""
    fake = FakeLLM()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    settings.COLLOQUY_LLM_BASE_URL = fake.url
    settings.COLLOQUY_LLM_MODEL = "test-model"
    settings.COLLOQUY_LLM_API_KEY = "sekret"
    settings.COLLOQUY_LLM_TIMEOUT = 5
    settings.COLLOQUY_LLM_BATCH = 40
    roster_study.llm_suggestions = True
    roster_study.save(update_fields=["llm_suggestions"])
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def gb(roster_study: Study, codes: dict[str, Code]) -> Document:
    """GB-1's transcript, stored as imported (not pseudonymised): names, an e-mail address
    and a phone number in what people say."""
    workshop = roster_study.workshops.get(code="GB-1")
    [outcome] = import_transcripts(
        study=roster_study, workshop=workshop, files=[("GB-1.txt", GB_TXT.encode())]
    )
    return outcome.document


def sentence_span(document: Document, number: int) -> tuple[int, int]:
    sentence = document.sentences.order_by("seq")[number - 1]
    return sentence.start, sentence.end


def model_events(study: Study) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(study=study, action=AuditEvent.Action.MODEL).order_by("pk")
    )


def assert_nothing_written(users_before: int) -> None:
    assert MachineCoder.objects.count() == 0
    assert Coding.objects.count() == 0
    assert MachineScore.objects.count() == 0
    assert User.objects.count() == users_before  # no machine account left behind


# --- A good answer ----------------------------------------------------------------------------


def test_it_writes_the_answer_as_the_machines_own_layer(
    llm: FakeLLM, gb: Document, people: dict[str, User]
) -> None:
    llm.script(
        codings(
            (NEGOTIATE, "Concept/negotiability", 0.8),
            (APPEAL, "Concept/negotiability", 0.55),
            (NEGOTIATE, "Concept/explainability", 0.1),
        )
    )
    run = suggest_llm(gb.study, [gb], user=people["alice"])

    machine = run.machine
    assert machine is not None and MachineCoder.objects.get() == machine
    assert (machine.engine, machine.model_name, machine.version) == ("llm", "test-model", 1)
    assert machine.prompt_version == PROMPT_VERSION and machine.created_by == people["alice"]
    written = {
        (c.code.name, c.start, c.end, c.machine_score.confidence)
        for c in Coding.objects.filter(coder=machine.user).select_related("code", "machine_score")
    }
    assert written == {
        ("negotiability", *sentence_span(gb, NEGOTIATE), 0.8),
        ("negotiability", *sentence_span(gb, APPEAL), 0.55),
        ("explainability", *sentence_span(gb, NEGOTIATE), 0.1),
    }
    assert Coding.objects.layer("all").count() == 0  # no person's layer has them
    assert (run.calls, run.sentences, run.suggestions) == (1, 6, 3)
    assert run.report() == (
        f"Large language model test-model v1 (prompt v{PROMPT_VERSION}): 3 suggestions in "
        "1 document (6 sentences, 1 call, 120 + 30 tokens, " + f"{run.seconds:.1f} s)"
    )


def test_the_request_carries_the_codebook_and_only_pseudonymised_text(
    llm: FakeLLM, gb: Document
) -> None:
    llm.script(codings())
    suggest_llm(gb.study, [gb])

    [received] = llm.received
    assert received["path"] == "/v1/chat/completions"
    assert received["headers"]["Authorization"] == "Bearer sekret"
    request = received["json"]
    assert request["model"] == "test-model" and request["temperature"] == 0
    assert request["response_format"] == {"type": "json_object"}
    system, user = request["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    for text in (
        "- Concept/negotiability",
        "Definition: Working flexibly around a decision-maker.",
        "When to apply: Arguing, appealing, bargaining.",
        "When not to apply: A wish for reasons alone.",
        "Example: I want to negotiate the outcome.",
        "- Concept/explainability",
        '{"codings": [{"sentence": 3, "code": "Concept/negotiability", "confidence": 0.8}]}',
    ):
        assert text in system["content"]
    assert "- Concept\n" not in system["content"]  # a dimension is never applied
    assert (
        "4. [P05] said I should appeal, so I wrote to [EMAIL] and called [PHONE]."
        in (user["content"])
    )
    assert "6. Ask [P04]." in user["content"]
    for personal in RAW_PERSONAL_DATA:
        assert personal in gb.text  # the stored text still has them ...
        assert personal not in llm.raw  # ... and none of them left the server


def test_a_quote_in_the_codebook_is_pseudonymised_too(
    llm: FakeLLM, gb: Document, codes: dict[str, Code]
) -> None:
    codes["explainability"].example = "Callum said nobody could tell him why."
    codes["explainability"].save()
    llm.script(codings())
    suggest_llm(gb.study, [gb])
    assert "Example: [P05] said nobody could tell him why." in llm.raw
    assert "Callum" not in llm.raw


def test_it_asks_in_batches_and_maps_each_number_to_its_own_sentence(
    llm: FakeLLM, settings: object, gb: Document, document: Document
) -> None:
    """Four sentences a call: every sentence that speaks of negotiating or appealing (in the
    Finnish transcript: "valittaa") is coded, numbered within its own batch."""
    settings.COLLOQUY_LLM_BATCH = 4

    def answer(request: dict) -> Reply:
        lines = request["messages"][1]["content"].splitlines()[2:]
        hits = [
            (int(line.split(".", 1)[0]), "Concept/negotiability", 0.9)
            for line in lines
            if "negotiate" in line or "appeal" in line or "valittaa" in line
        ]
        return codings(*hits)

    llm.script(answer)
    run = suggest_llm(gb.study, [gb, document])

    fi_sentences = document.sentences.count()
    assert run.calls == len(llm.received) == 2 + -(-fi_sentences // 4)
    assert [len(r["json"]["messages"][1]["content"].splitlines()[2:]) for r in llm.received][
        :2
    ] == [4, 2]
    spans = set(
        Coding.objects.filter(coder=run.machine.user).values_list("document_id", "start", "end")
    )
    fi_appeal = next(
        (s.start, s.end)
        for s in document.sentences.all()
        if "valittaa" in document.text[s.start : s.end]
    )
    assert spans == {
        (gb.pk, *sentence_span(gb, APPEAL)),
        (gb.pk, *sentence_span(gb, NEGOTIATE)),
        (document.pk, *fi_appeal),
    }


def test_a_json_answer_in_a_fence_is_read(llm: FakeLLM, gb: Document) -> None:
    answer = {
        "codings": [{"sentence": NEGOTIATE, "code": "Concept/negotiability", "confidence": 1}]
    }
    llm.script(completion("Here you are:\n```json\n" + json.dumps(answer) + "\n```\n"))
    assert suggest_llm(gb.study, [gb]).suggestions == 1


def test_a_new_run_is_a_new_version_and_the_old_layer_stays(llm: FakeLLM, gb: Document) -> None:
    llm.script(codings((NEGOTIATE, "Concept/negotiability", 0.8)))
    first = suggest_llm(gb.study, [gb]).machine
    second = suggest_llm(gb.study, [gb]).machine
    assert (first.version, second.version) == (1, 2)
    assert Coding.objects.filter(coder=first.user).count() == 1
    assert Coding.objects.filter(coder=second.user).count() == 1


# --- Every call in the audit trail ----------------------------------------------------------


def test_every_call_is_recorded_with_its_model_prompt_time_and_tokens(
    llm: FakeLLM, settings: object, gb: Document, people: dict[str, User]
) -> None:
    settings.COLLOQUY_LLM_BATCH = 4
    llm.script(
        codings((APPEAL, "Concept/negotiability", 0.5)),
        completion({"codings": []}, usage=None),  # a server that does not count tokens
    )
    run = suggest_llm(gb.study, [gb], user=people["alice"])

    first, second, summary = model_events(gb.study)
    assert first.summary.startswith("LLM call to test-model: 4 sentences of GB-1, ")
    assert first.summary.endswith(" ms, 120 + 30 tokens")
    assert first.user == people["alice"]
    assert first.details | {"duration_ms": 0} == {
        "engine": "llm",
        "model": "test-model",
        "prompt_version": PROMPT_VERSION,
        "endpoint": llm.url.removesuffix("/v1"),
        "document": gb.pk,
        "sentences": 4,
        "duration_ms": 0,
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "ok": True,
        "codings": 1,
    }
    assert isinstance(first.details["duration_ms"], int)
    assert second.details["sentences"] == 2 and second.details["prompt_tokens"] is None
    assert summary.summary == "Large language model test-model v1 suggested 1 coding in 1 document"
    assert summary.details["calls"] == 2 and summary.details["prompt_tokens"] == 120
    assert summary.details["version"] == run.machine.version


# --- Answers and failures that write nothing ------------------------------------------------

FENCE_OPEN = "```json\n" + '{"codings": ['


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        pytest.param(
            completion("{codings: [}"),
            "the model's answer is not valid JSON: Expecting property name enclosed in double "
            "quotes at line 1 column 2",
            id="malformed",
        ),
        pytest.param(
            completion('{"codings": [{"sentence": 5, "code": "Concept/negoti'),
            "the model's answer stops before its JSON ends (it was cut off after 52 characters; "
            "lower COLLOQUY_LLM_BATCH or raise the model's output limit)",
            id="partial",
        ),
        pytest.param(
            completion('{"codings": [', finish="length"),
            "the model's answer stops before its JSON ends",
            id="cut-off-at-the-length-limit",
        ),
        pytest.param(
            completion(FENCE_OPEN),
            "the model's answer stops before it ends (an unclosed ``` block)",
            id="unclosed-fence",
        ),
        pytest.param(completion(""), "the model gave an empty answer", id="empty"),
        pytest.param(
            completion({"answer": []}), 'the model\'s answer has no "codings" list', id="no-list"
        ),
        pytest.param(
            codings((NEGOTIATE, "Concept/fairness", 0.8)),
            "the model's answer was refused: coding 1: code 'Concept/fairness' is not a "
            "codable code of the codebook",
            id="unknown-code",
        ),
        pytest.param(
            codings((NEGOTIATE, "Concept", 0.8)),
            "coding 1: code 'Concept' is not a codable code of the codebook",
            id="a-dimension",
        ),
        pytest.param(
            codings((NEGOTIATE, "Concept/negotiability", 0.8), (99, "Concept/negotiability", 0.8)),
            "the model's answer was refused: coding 2: sentence 99 was not sent (1-6)",
            id="unknown-sentence",
        ),
        pytest.param(
            codings(("5", "Concept/negotiability", 0.8)),
            "coding 1: sentence '5' is not a sentence number",
            id="sentence-as-text",
        ),
        pytest.param(
            codings((NEGOTIATE, "Concept/negotiability", 1.5)),
            "coding 1: confidence 1.5 is not between 0 and 1",
            id="confidence-above-1",
        ),
        pytest.param(
            codings((NEGOTIATE, "Concept/negotiability", "high")),
            "coding 1: confidence 'high' is not a number",
            id="confidence-as-text",
        ),
        pytest.param(
            completion({"codings": [{"sentence": NEGOTIATE, "code": "Concept/negotiability"}]}),
            "coding 1: confidence None is not a number",
            id="confidence-missing",
        ),
        pytest.param(
            Reply({"error": {"message": "CUDA out of memory", "type": "server_error"}}, 500),
            "the model server answered HTTP 500: CUDA out of memory",
            id="http-500",
        ),
        pytest.param(
            Reply({"error": 'model "test-model" not found, try pulling it first'}, 404),
            'the model server answered HTTP 404: model "test-model" not found, try pulling it '
            "first",
            id="ollama-404",
        ),
        pytest.param(
            Reply("<html><body>Welcome to nginx!</body></html>"),
            "the model server's answer is not JSON (is COLLOQUY_LLM_BASE_URL the API's address, "
            "ending in /v1?): <html><body>Welcome to nginx!</body></html>",
            id="not-an-api",
        ),
        pytest.param(
            Reply({"object": "list", "data": []}),
            "the model server's answer has no message (choices[0].message.content)",
            id="no-choices",
        ),
        pytest.param(Reply(b""), "the model server gave an empty answer", id="empty-body"),
        pytest.param(
            Reply(b"", 302, headers={"Location": "http://elsewhere.example/v1/chat/completions"}),
            "answered with a redirect (302), which is not followed",
            id="redirect",
        ),
    ],
)
def test_a_bad_answer_is_refused_whole_and_writes_nothing(
    llm: FakeLLM, gb: Document, reply: Reply, message: str
) -> None:
    users = User.objects.count()
    llm.script(reply)
    with pytest.raises(MachineError) as refused:
        suggest_llm(gb.study, [gb])
    assert str(refused.value).startswith("GB-1: ")
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
    assert_nothing_written(users)
    [event] = model_events(gb.study)  # the failed call is recorded all the same
    assert event.details["ok"] is False and message in event.details["error"]
    assert event.summary.startswith("LLM call to test-model failed (6 sentences of GB-1): ")


def test_a_slow_answer_times_out_and_writes_nothing(
    llm: FakeLLM, settings: object, gb: Document
) -> None:
    settings.COLLOQUY_LLM_TIMEOUT = 1
    users = User.objects.count()
    llm.script(Reply(codings((NEGOTIATE, "Concept/negotiability", 0.8)).body, delay=3))
    started = time.monotonic()
    with pytest.raises(MachineError, match=r"^GB-1: the model did not answer within 1 s$"):
        suggest_llm(gb.study, [gb])
    assert time.monotonic() - started < 2.5
    assert_nothing_written(users)
    [event] = model_events(gb.study)
    assert event.details["error"] == "the model did not answer within 1 s"
    assert event.details["duration_ms"] >= 1000


def test_nothing_listening_is_a_refused_connection(
    llm: FakeLLM, settings: object, gb: Document
) -> None:
    users = User.objects.count()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    settings.COLLOQUY_LLM_BASE_URL = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(MachineError) as refused:
        suggest_llm(gb.study, [gb])
    assert str(refused.value) == (
        f"GB-1: the model server at http://127.0.0.1:{port} refused the connection (is it running?)"
    )
    assert_nothing_written(users)
    [event] = model_events(gb.study)
    assert event.details["ok"] is False and event.details["prompt_tokens"] is None


def test_a_failure_in_the_last_document_writes_nothing_in_the_first(
    llm: FakeLLM, gb: Document, document: Document
) -> None:
    users = User.objects.count()
    llm.script(
        codings((NEGOTIATE, "Concept/negotiability", 0.8)),
        Reply({"error": {"message": "overloaded"}}, 503),
    )
    with pytest.raises(MachineError, match=r"^FI-1: the model server answered HTTP 503"):
        suggest_llm(gb.study, [gb, document])
    assert_nothing_written(users)
    assert [e.details["ok"] for e in model_events(gb.study)] == [True, False]


def test_a_failed_run_leaves_the_previous_versions_suggestions_alone(
    llm: FakeLLM, gb: Document
) -> None:
    llm.script(codings((NEGOTIATE, "Concept/negotiability", 0.8)))
    first = suggest_llm(gb.study, [gb]).machine
    llm.script(completion("not json at all"))
    with pytest.raises(MachineError):
        suggest_llm(gb.study, [gb])
    assert list(MachineCoder.objects.all()) == [first]
    assert Coding.objects.filter(coder=first.user).count() == 1


# --- Off unless configured and opted in ---------------------------------------------------


def test_it_is_off_without_an_endpoint_or_the_owners_consent(
    llm: FakeLLM, settings: object, gb: Document
) -> None:
    study = gb.study
    llm.script(codings())
    assert llm_available(study) == ""

    study.llm_suggestions = False
    assert llm_available(study) == "the study's owners have not turned LLM suggestions on"
    with pytest.raises(MachineError) as off:
        suggest_llm(study, [gb])
    assert str(off.value) == (
        "LLM suggestions are not available: the study's owners have not turned LLM suggestions on"
    )

    study.llm_suggestions = True
    settings.COLLOQUY_LLM_BASE_URL = ""
    assert llm_available(study) == "no endpoint is configured (COLLOQUY_LLM_BASE_URL)"
    with pytest.raises(MachineError, match=r"no endpoint is configured \(COLLOQUY_LLM_BASE_URL\)"):
        suggest_llm(study, [gb])

    settings.COLLOQUY_LLM_BASE_URL = llm.url
    settings.COLLOQUY_LLM_MODEL = ""
    assert llm_available(study) == "no model is configured (COLLOQUY_LLM_MODEL)"

    assert llm.received == [] and model_events(study) == []  # nothing was sent
    assert MachineCoder.objects.count() == 0


def test_an_archived_study_or_an_empty_codebook_asks_nothing(
    llm: FakeLLM, gb: Document, codes: dict[str, Code]
) -> None:
    study = gb.study
    llm.script(codings())
    study.archived_at = timezone.now()
    with pytest.raises(MachineError, match=r"^adm is archived: nothing can be coded in it$"):
        suggest_llm(study, [gb])
    study.archived_at = None
    Code.objects.filter(study=study).update(codable=False)
    with pytest.raises(MachineError, match="the codebook has no codable code to suggest"):
        suggest_llm(study, [gb])
    assert llm.received == []


def test_the_prompt_numbers_the_sentences_in_the_order_given(
    roster_study: Study, gb: Document
) -> None:
    sentences = list(gb.sentences.order_by("-seq")[:2])
    _system, user = build_prompt(roster_study, sentences)
    assert user["content"].splitlines()[2:] == [
        "1. Ask [P04].",
        "2. I want to negotiate with a person.",
    ]


# --- The command ------------------------------------------------------------------------------


def test_the_command_prints_the_runs_report_or_the_reason(llm: FakeLLM, gb: Document) -> None:
    llm.script(codings((NEGOTIATE, "Concept/negotiability", 0.8)))
    out = io.StringIO()
    call_command("suggest", "--study", "adm", "--engine", "llm", "--documents", "GB-1", stdout=out)
    assert out.getvalue().startswith(
        f"Large language model test-model v1 (prompt v{PROMPT_VERSION}): 1 suggestion in "
        "1 document (6 sentences, 1 call, 120 + 30 tokens, "
    )
    llm.script(Reply({"error": {"message": "overloaded"}}, 503))
    with pytest.raises(
        CommandError, match=r"^GB-1: the model server answered HTTP 503: overloaded$"
    ):
        call_command("suggest", "--study", "adm", "--engine", "llm", "--documents", "GB-1")
    assert MachineCoder.objects.count() == 1


def test_a_base_url_that_is_not_http_stops_the_server_at_start_up() -> None:
    from tests.test_settings import run

    bad = run(["manage.py", "check"], DEBUG="1", COLLOQUY_LLM_BASE_URL="file:///etc/passwd")
    assert bad.returncode != 0
    assert (
        "COLLOQUY_LLM_BASE_URL must start with http:// or https://, not 'file:///etc/passwd'"
        in bad.stderr
    )


def test_a_failed_run_from_the_page_shows_why_and_keeps_the_calls_record(
    llm: FakeLLM, gb: Document, people: dict[str, User]
) -> None:
    """Through the Machine coding page: the person reads the reason, nothing is written, and
    the failed call stays in the audit trail (the run is not wrapped in a transaction that
    would take its record back)."""
    from django.urls import reverse

    from tests.helpers import client_for

    users = User.objects.count()
    llm.script(Reply({"error": {"message": "model is loading"}}, status=503))
    page = client_for(people["alice"]).post(
        reverse("coding:machine_suggest", args=[gb.study.slug]),
        {"engine": "llm", "document": [gb.pk]},
        follow=True,
    )
    assert "model is loading" in page.content.decode()
    assert_nothing_written(users)
    [event] = model_events(gb.study)
    assert event.details["ok"] is False
