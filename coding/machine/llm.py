"""The LLM engine: a large language model behind an OpenAI-compatible endpoint suggests codes
sentence by sentence, with the study's codebook as its instructions.

Off unless the deployment configures an endpoint (COLLOQUY_LLM_BASE_URL, COLLOQUY_LLM_MODEL,
COLLOQUY_LLM_API_KEY; a local Ollama, vLLM or llama.cpp server keeps the data on campus) and
the study's owners turn it on (`Study.llm_suggestions`).

What leaves the server: the codebook's paths and texts, and the sentences, all numbered, after
`pseudonymise_text` has replaced participant names, the private list, e-mail addresses, phone
numbers and web addresses (again, even where the stored text already is pseudonymised). The
request goes straight to the configured endpoint: no proxy from the environment, no redirect
followed.

The answer is JSON naming sentences by number: {"codings": [{"sentence": 3, "code":
"Concept/negotiability", "confidence": 0.8}]}. It is checked strictly; an answer with anything
wrong is refused whole. Suggestions are written only after every call for every document
answered well, in one transaction with the new machine coder version: a failure anywhere
writes nothing. Every call, answered or failed, is one event in the study's audit trail.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from coding.machine import MachineError, Suggested, new_machine_coder, write_suggestions
from coding.models import CODE_SECTIONS, Code, CodeTree, MachineCoder
from studies.audit import record
from studies.models import AuditEvent, Document, Sentence, Study
from studies.pseudonymise import pseudonymise_text
from studies.wording import plural

ENGINE = MachineCoder.Engine.LLM
# Changes whenever the instructions or the answer format change, so that each layer says which
# prompt made it (MachineCoder.prompt_version).
PROMPT_VERSION = "1"
MAX_ANSWER_BYTES = 5 * 1024 * 1024
# Between pieces of text pseudonymised together: no pattern reaches across a blank line.
_SEPARATOR = "\n\n"
_FENCE = re.compile(r"```[A-Za-z]*[ \t]*\n?(.*?)```", re.DOTALL)

ANSWER_FORMAT = """Answer with one JSON object and nothing else:
{{"codings": [{{"sentence": 3, "code": "{example}", "confidence": 0.8}}]}}
- "sentence": the number of a sentence as given;
- "code": a code's path exactly as written in the codebook;
- "confidence": how sure you are that the code applies, from 0 to 1.
A sentence may take several codes or none. Leave out the sentences no code fits.
When no code fits any sentence, answer {{"codings": []}}."""


# --- Availability -----------------------------------------------------------------------------


def llm_available(study: Study) -> str:
    """ "" when the study may ask the LLM for suggestions, else the reason it may not."""
    if not settings.COLLOQUY_LLM_BASE_URL:
        return "no endpoint is configured (COLLOQUY_LLM_BASE_URL)"
    if not settings.COLLOQUY_LLM_MODEL:
        return "no model is configured (COLLOQUY_LLM_MODEL)"
    if not study.llm_suggestions:
        return "the study's owners have not turned LLM suggestions on"
    return ""


# --- The prompt -------------------------------------------------------------------------------


def _pseudonymised(
    study: Study, pieces: Sequence[str], *, language: str, workshop: object = None
) -> list[str]:
    """Each piece with its personal data replaced, pseudonymised as one text (one pass over
    the roster and the private list) and cut apart where the pieces were joined."""
    if not pieces:
        return []
    joined = _SEPARATOR.join(pieces)
    result = pseudonymise_text(study, joined, language=language, workshop=workshop)
    new = result.parsed.text
    out = []
    at = 0
    for piece in pieces:
        start, end = at, at + len(piece)
        out.append(new[result.move(start) : result.move(end, end=True)])
        at = end + len(_SEPARATOR)
    return out


def _codable_codes(study: Study) -> list[tuple[str, Code]]:
    """(path, code) for every codable code, in the codebook's order."""
    codes = {c.pk: c for c in Code.objects.filter(study=study)}
    tree = CodeTree.from_codes(codes.values())
    return [(tree.path[pk], codes[pk]) for pk in tree.tree_order() if codes[pk].codable]


def _codebook_text(study: Study, codes: Sequence[tuple[str, Code]]) -> str:
    sections = [("definition", "Definition"), *CODE_SECTIONS]
    texts = [getattr(code, name).strip() for _path, code in codes for name, _label in sections]
    # Examples are quotes: they are pseudonymised like the sentences.
    safe = iter(_pseudonymised(study, texts, language=study.language))
    lines = []
    for path, _code in codes:
        lines.append(f"- {path}")
        for _name, label in sections:
            text = next(safe)
            if text:
                lines.append(f"  {label}: " + " ".join(text.split()))
    return "\n".join(lines)


def _sentence_texts(study: Study, sentences: Sequence[Sentence]) -> list[str]:
    """The sentences' texts, pseudonymised document by document."""
    texts: list[str] = [""] * len(sentences)
    by_document: dict[int, list[int]] = {}
    for i, sentence in enumerate(sentences):
        by_document.setdefault(sentence.document_id, []).append(i)
    for indexes in by_document.values():
        document = sentences[indexes[0]].document
        raw = [
            " ".join(document.text[s.start : s.end].split())
            for s in (sentences[i] for i in indexes)
        ]
        for i, text in zip(
            indexes,
            _pseudonymised(study, raw, language=document.language, workshop=document.workshop),
            strict=True,
        ):
            texts[i] = text
    return texts


def build_prompt(study: Study, sentences: Sequence[Sentence]) -> list[dict[str, str]]:
    """The chat messages for `sentences` (numbered from 1 in the order given): the codebook and
    the answer format as the system message, the pseudonymised sentences as the user's."""
    codes = _codable_codes(study)
    system = (
        "You help code the transcripts of a qualitative research study. Apply a code to a "
        "sentence only where the sentence fits the code's definition and its rules: when to "
        "apply it, when not to, and its example.\n\n"
        f"The codebook:\n{_codebook_text(study, codes)}\n\n"
        + ANSWER_FORMAT.format(example=json.dumps(codes[0][0] if codes else "Code/subcode")[1:-1])
    )
    numbered = "\n".join(
        f"{n}. {text}" for n, text in enumerate(_sentence_texts(study, sentences), start=1)
    )
    user = f"Code these sentences:\n\n{numbered}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# --- The call ---------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the key and the text elsewhere: it is an error instead."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _endpoint() -> str:
    """The endpoint as the person may read it: scheme, host and port, never a password."""
    parts = urllib.parse.urlsplit(settings.COLLOQUY_LLM_BASE_URL)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _server_message(body: bytes) -> str:
    """The error an OpenAI-compatible server gives: {"error": {"message": ...}} (OpenAI, vLLM,
    llama.cpp), {"error": "..."} (Ollama), {"detail": ...}, or the start of its text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error:
            text = str(error)
    text = " ".join(text.split())
    return text[:300] + ("..." if len(text) > 300 else "")


@dataclass
class _Reply:
    content: str
    finish_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None


def _post(messages: list[dict[str, str]], timeout: int) -> _Reply:
    """One chat completion; MachineError with one line for the person when it fails."""
    url = settings.COLLOQUY_LLM_BASE_URL + "/chat/completions"
    payload = {
        "model": settings.COLLOQUY_LLM_MODEL,
        "messages": messages,
        "temperature": 0,
        "response_format": {"type": "json_object"},
        "stream": False,
    }
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if settings.COLLOQUY_LLM_API_KEY:
        headers["Authorization"] = f"Bearer {settings.COLLOQUY_LLM_API_KEY}"
    # The settings accept only http:// and https:// base URLs.
    request = urllib.request.Request(  # noqa: S310
        url, data=json.dumps(payload).encode(), headers=headers, method="POST"
    )
    where = _endpoint()
    late = f"the model did not answer within {timeout} s"
    deadline = time.monotonic() + timeout
    try:
        with _opener.open(request, timeout=timeout) as response:
            chunks = []
            size = 0
            while chunk := response.read(65536):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise MachineError(
                        f"the model server's answer is larger than "
                        f"{MAX_ANSWER_BYTES // (1024 * 1024)} MB"
                    )
                if time.monotonic() > deadline:
                    raise MachineError(late)
            body = b"".join(chunks)
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise MachineError(
                f"the model server at {where} answered with a redirect ({exc.code}), which is "
                "not followed: configure the address it redirects to"
            ) from None
        raise MachineError(
            f"the model server answered HTTP {exc.code}: {_server_message(exc.read())}"
        ) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise MachineError(late) from None
        if isinstance(reason, ConnectionRefusedError):
            raise MachineError(
                f"the model server at {where} refused the connection (is it running?)"
            ) from None
        raise MachineError(f"the model server at {where} cannot be reached: {reason}") from None
    except TimeoutError:
        raise MachineError(late) from None
    except (ConnectionError, OSError) as exc:
        # A connection reset or a server that hangs up in the middle of its answer.
        raise MachineError(f"the connection to the model server at {where} broke: {exc}") from None

    if not body.strip():
        raise MachineError("the model server gave an empty answer")
    try:
        envelope = json.loads(body)
    except ValueError:
        raise MachineError(
            "the model server's answer is not JSON (is COLLOQUY_LLM_BASE_URL the API's address, "
            f"ending in /v1?): {_server_message(body)}"
        ) from None
    try:
        choice = envelope["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        if isinstance(envelope, dict) and "error" in envelope:
            raise MachineError(f"the model server refused: {_server_message(body)}") from None
        raise MachineError(
            "the model server's answer has no message (choices[0].message.content)"
        ) from None
    usage = envelope.get("usage") if isinstance(envelope.get("usage"), dict) else {}

    def tokens(name: str) -> int | None:
        value = usage.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return _Reply(
        content if isinstance(content, str) else "",
        str(choice.get("finish_reason") or ""),
        tokens("prompt_tokens"),
        tokens("completion_tokens"),
    )


# --- The answer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Coding:
    sentence: int  # 1-based, as numbered in the prompt
    code: int
    confidence: float


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_answer(reply: _Reply, sentences: int, codes: dict[str, int]) -> list[_Coding]:
    """The codings the model's answer names, checked strictly: any problem refuses the whole
    answer (MachineError naming what was wrong). `codes`: path -> code id."""
    text = reply.content.strip()
    if not text:
        raise MachineError("the model gave an empty answer")
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    elif text.startswith("```"):
        raise MachineError("the model's answer stops before it ends (an unclosed ``` block)")
    cut = reply.finish_reason == "length"
    try:
        answer = json.loads(text)
    except json.JSONDecodeError as exc:
        if cut or exc.pos >= len(text) or "Unterminated" in exc.msg:
            raise MachineError(
                "the model's answer stops before its JSON ends (it was cut off after "
                f"{len(text):,} characters; lower COLLOQUY_LLM_BATCH or raise the model's "
                "output limit)"
            ) from None
        raise MachineError(
            f"the model's answer is not valid JSON: {exc.msg} at line {exc.lineno} column "
            f"{exc.colno}"
        ) from None
    if cut:
        raise MachineError('the model\'s answer was cut off (finish_reason "length")')
    if not isinstance(answer, dict) or not isinstance(answer.get("codings"), list):
        raise MachineError('the model\'s answer has no "codings" list')

    folded: dict[str, int | None] = {}
    for path, pk in codes.items():
        key = path.casefold()
        folded[key] = None if key in folded else pk  # None: two codes differ only in case
    problems: list[str] = []
    found: dict[tuple[int, int], float] = {}
    for i, item in enumerate(answer["codings"], start=1):
        where = f"coding {i}"
        if not isinstance(item, dict):
            problems.append(f"{where} is not an object")
            continue
        number, path, confidence = item.get("sentence"), item.get("code"), item.get("confidence")
        wrong = []
        if not isinstance(number, int) or isinstance(number, bool):
            wrong.append(f"sentence {number!r} is not a sentence number")
        elif not 1 <= number <= sentences:
            wrong.append(f"sentence {number} was not sent (1-{sentences})")
        code = None
        if not isinstance(path, str):
            wrong.append(f"code {path!r} is not a code's path")
        else:
            code = codes.get(path.strip()) or folded.get(path.strip().casefold())
            if code is None:
                wrong.append(f"code {path!r} is not a codable code of the codebook")
        if not _number(confidence):
            wrong.append(f"confidence {confidence!r} is not a number")
        elif not 0 <= confidence <= 1:
            wrong.append(f"confidence {confidence} is not between 0 and 1")
        if wrong:
            problems.append(f"{where}: " + ", ".join(wrong))
            continue
        key = (number, code)
        found[key] = max(found.get(key, 0.0), float(confidence))
    if problems:
        more = f"; and {plural(len(problems) - 3, 'more problem')}" if len(problems) > 3 else ""
        raise MachineError("the model's answer was refused: " + "; ".join(problems[:3]) + more)
    return [_Coding(n, code, p) for (n, code), p in sorted(found.items())]


# --- Suggesting -------------------------------------------------------------------------------


@dataclass
class LlmRun:
    """What one run of the LLM engine did."""

    model: str
    machine: MachineCoder | None = None
    documents: int = 0
    sentences: int = 0
    calls: int = 0
    suggestions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    written: dict[int, int] = field(default_factory=dict)  # document id -> codings

    def report(self) -> str:
        label = self.machine.label if self.machine else f"LLM {self.model}"
        tokens = (
            f", {self.prompt_tokens:,} + {self.completion_tokens:,} tokens"
            if self.prompt_tokens or self.completion_tokens
            else ""
        )
        return (
            f"{label} (prompt v{PROMPT_VERSION}): {plural(self.suggestions, 'suggestion')} in "
            f"{plural(self.documents, 'document')} ({plural(self.sentences, 'sentence')}, "
            f"{plural(self.calls, 'call')}{tokens}, {self.seconds:.1f} s)"
        )


def _ask(
    study: Study,
    document: Document,
    batch: Sequence[Sentence],
    codes: dict[str, int],
    run: LlmRun,
    user: object,
) -> list[_Coding]:
    """One call for one batch, recorded in the audit trail whether it answered or failed."""
    model = settings.COLLOQUY_LLM_MODEL
    details: dict = {
        "engine": ENGINE,
        "model": model,
        "prompt_version": PROMPT_VERSION,
        "endpoint": _endpoint(),
        "document": document.pk,
        "sentences": len(batch),
    }
    started = time.monotonic()
    reply = None
    try:
        messages = build_prompt(study, batch)
        reply = _post(messages, settings.COLLOQUY_LLM_TIMEOUT)
        codings = parse_answer(reply, len(batch), codes)
    except MachineError as exc:
        details |= _call_figures(started, reply) | {"ok": False, "error": str(exc)}
        record(
            study,
            AuditEvent.Action.MODEL,
            f"LLM call to {model} failed ({plural(len(batch), 'sentence')} of "
            f"{document.title}): {exc}",
            user=user,
            details=details,
        )
        raise MachineError(f"{document.title}: {exc}") from None
    figures = _call_figures(started, reply)
    details |= figures | {"ok": True, "codings": len(codings)}
    tokens = (
        f", {figures['prompt_tokens'] or 0:,} + {figures['completion_tokens'] or 0:,} tokens"
        if figures["prompt_tokens"] is not None or figures["completion_tokens"] is not None
        else ""
    )
    record(
        study,
        AuditEvent.Action.MODEL,
        f"LLM call to {model}: {plural(len(batch), 'sentence')} of {document.title}, "
        f"{figures['duration_ms']:,} ms{tokens}",
        user=user,
        details=details,
    )
    run.calls += 1
    run.prompt_tokens += figures["prompt_tokens"] or 0
    run.completion_tokens += figures["completion_tokens"] or 0
    return codings


def _call_figures(started: float, reply: _Reply | None) -> dict:
    return {
        "duration_ms": round((time.monotonic() - started) * 1000),
        "prompt_tokens": reply.prompt_tokens if reply else None,
        "completion_tokens": reply.completion_tokens if reply else None,
    }


def _has_words(text: str) -> bool:
    """A sentence worth sending: not only punctuation or a withdrawn participant's █."""
    return any(c.isalnum() for c in text)


def suggest_llm(
    study: Study,
    documents: Iterable[Document] | None = None,
    user: object = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> LlmRun:
    """Ask the configured model to code `documents` (all the study's when None) and write its
    suggestions as a new version of the study's LLM coder, all of them or, when any call or
    answer fails, none (MachineError naming the document and what went wrong). `progress` is
    called with (sentences done, sentences in all) after each call."""
    reason = llm_available(study)
    if reason:
        raise MachineError(f"LLM suggestions are not available: {reason}")
    if study.is_archived:
        raise MachineError(f"{study.slug} is archived: nothing can be coded in it")
    documents = list(study.documents.all() if documents is None else documents)
    strangers = [d.title for d in documents if d.study_id != study.pk]
    if strangers:
        raise MachineError(f"{strangers[0]} is not a document of {study.slug}")
    code_paths = {path: code.pk for path, code in _codable_codes(study)}
    if not code_paths:
        raise MachineError("the codebook has no codable code to suggest")

    started = time.monotonic()
    run = LlmRun(model=settings.COLLOQUY_LLM_MODEL, documents=len(documents))
    work: list[tuple[Document, list[Sentence]]] = []
    for document in documents:
        sentences = [
            s
            for s in document.sentences.order_by("seq")
            if _has_words(document.text[s.start : s.end])
        ]
        work.append((document, sentences))
        run.sentences += len(sentences)

    # Ask everything first, writing nothing: one failed call leaves the study as it was.
    size = settings.COLLOQUY_LLM_BATCH
    answers: dict[int, list[Suggested]] = {}
    done = 0
    for document, sentences in work:
        items: list[Suggested] = []
        for at in range(0, len(sentences), size):
            batch = sentences[at : at + size]
            for coding in _ask(study, document, batch, code_paths, run, user):
                sentence = batch[coding.sentence - 1]
                items.append(
                    Suggested(coding.code, sentence.start, sentence.end, coding.confidence)
                )
            done += len(batch)
            if progress:
                progress(done, run.sentences)
        answers[document.pk] = items

    with transaction.atomic():
        machine = new_machine_coder(
            study,
            ENGINE,
            settings.COLLOQUY_LLM_MODEL,
            prompt_version=PROMPT_VERSION,
            options={"batch": size, "temperature": 0, "endpoint": _endpoint()},
            user=user,
        )
        for document, _sentences in work:
            run.written[document.pk] = write_suggestions(machine, document, answers[document.pk])
        run.machine = machine
        run.suggestions = sum(run.written.values())
        run.seconds = time.monotonic() - started
        record(
            study,
            AuditEvent.Action.MODEL,
            f"{machine.label} suggested {plural(run.suggestions, 'coding')} in "
            f"{plural(run.documents, 'document')}",
            user=user,
            details={
                "engine": ENGINE,
                "model": machine.model_name,
                "version": machine.version,
                "prompt_version": PROMPT_VERSION,
                "documents": run.documents,
                "sentences": run.sentences,
                "calls": run.calls,
                "codings": run.suggestions,
                "prompt_tokens": run.prompt_tokens,
                "completion_tokens": run.completion_tokens,
            },
        )
    return run
