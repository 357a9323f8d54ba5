"""The codebook, codings, memos, assignments and suggestion decisions.

`Code(study, parent, name)` and `Coding(document, code, coder, start, end)` are read by outside
scripts (DESIGN.md); keep those names.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from studies.access import Access
from studies.models import Document, Membership, Study

HEX_COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")

# A colour-blind-safe palette (Okabe and Ito, plus darker companions) for new codes.
PALETTE = [
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#999999",
    "#8C6D1F",
    "#3B7EA1",
    "#1B7F5C",
    "#A34A28",
]


def validate_colour(value: str) -> None:
    if not HEX_COLOUR_RE.match(value or ""):
        raise ValidationError(f"{value!r} is not a colour: use #RRGGBB, e.g. #0072B2.")


# A code's texts beside its definition, with the labels people read them under (the REFI-QDA
# export writes them into a code's description; the LLM engine's prompt lists them).
CODE_SECTIONS = (
    ("inclusion", "When to apply"),
    ("exclusion", "When not to apply"),
    ("example", "Example"),
)


class CodeQuerySet(models.QuerySet["Code"]):
    def codable(self) -> CodeQuerySet:
        return self.filter(codable=True)


class Code(models.Model):
    """A node of the study's codebook. A top-level code that is not codable and has children acts
    as a dimension ("Concept", "Domain"): its children are the values of that dimension."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="codes")
    parent = models.ForeignKey(
        "self", on_delete=models.RESTRICT, null=True, blank=True, related_name="children"
    )
    name = models.CharField(max_length=100)
    colour = models.CharField(max_length=7, default="#0072B2", validators=[validate_colour])
    definition = models.TextField(blank=True)
    inclusion = models.TextField(blank=True, help_text="When to apply this code.")
    exclusion = models.TextField(blank=True, help_text="When not to apply it.")
    example = models.TextField(blank=True, help_text="A typical quote.")
    order = models.PositiveIntegerField(default=0)
    codable = models.BooleanField(
        default=True, help_text="Off for a grouping such as a dimension: it is never applied."
    )
    shortcut = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="A digit 1-9 that applies this code in the coding view."
    )
    patterns = models.TextField(
        blank=True,
        help_text="One keyword or phrase per line to suggest this code where it occurs; "
        "'lemma: explain' matches every form of a word.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CodeQuerySet.as_manager()

    class Meta:
        ordering = ["study", "order", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "name"],
                condition=Q(parent__isnull=True),
                name="code_unique_top_level_name",
            ),
            models.UniqueConstraint(
                fields=["parent", "name"],
                condition=Q(parent__isnull=False),
                name="code_unique_name_in_parent",
            ),
            models.UniqueConstraint(
                fields=["study", "shortcut"],
                condition=Q(shortcut__isnull=False),
                name="code_unique_shortcut",
            ),
            models.CheckConstraint(
                condition=Q(shortcut__isnull=True) | Q(shortcut__gte=1, shortcut__lte=9),
                name="code_shortcut_digit",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("coding:code", args=[self.study.slug, self.pk])

    def ancestors(self) -> list[Code]:
        """From the top of the tree down to the parent."""
        lineage = CodeTree.of(self.study_id).lineage(self.pk)[:-1]
        by_id = Code.objects.in_bulk(lineage)
        return [by_id[pk] for pk in lineage]

    @property
    def path(self) -> str:
        return CodeTree.of(self.study_id).path[self.pk]


class CodeTree:
    """A study's codebook as a tree, from one query (or from codes already loaded): each code's
    path ("Concept/negotiability"), parent, lineage, subtree and the depth-first order in which
    the codebook and every table list codes. The one place the tree's shape is worked out."""

    def __init__(self, rows: Iterable[tuple[int, int | None, str, bool, int]]) -> None:
        self.parent: dict[int, int | None] = {}
        self.name: dict[int, str] = {}
        self.codable: dict[int, bool] = {}
        self.order: dict[int, int] = {}
        for pk, parent_id, name, codable, order in rows:
            self.parent[pk] = parent_id
            self.name[pk] = name
            self.codable[pk] = codable
            self.order[pk] = order
        self.below: dict[int | None, list[int]] = defaultdict(list)
        for pk, parent_id in self.parent.items():
            self.below[parent_id].append(pk)
        for siblings in self.below.values():
            siblings.sort(key=lambda pk: (self.order[pk], self.name[pk].casefold(), pk))
        self.path: dict[int, str] = {
            pk: "/".join(self.name[a] for a in self.lineage(pk)) for pk in self.parent
        }

    @classmethod
    def of(cls, study: Study | int) -> CodeTree:
        study_id = study if isinstance(study, int) else study.pk
        return cls(
            Code.objects.filter(study_id=study_id).values_list(
                "pk", "parent_id", "name", "codable", "order"
            )
        )

    @classmethod
    def from_codes(cls, codes: Iterable[Code]) -> CodeTree:
        return cls((c.pk, c.parent_id, c.name, c.codable, c.order) for c in codes)

    def lineage(self, pk: int) -> list[int]:
        """From the top of the tree down to the code itself."""
        chain = [pk]
        seen = {pk}
        # A parent outside the rows (codes of a partial list) ends the chain, as does a loop.
        while (parent := self.parent.get(chain[-1])) in self.parent and parent not in seen:
            chain.append(parent)
            seen.add(parent)
        return chain[::-1]

    def root(self, pk: int) -> int:
        return self.lineage(pk)[0]

    def dimension(self, pk: int) -> str:
        """The top-level ancestor's name when that ancestor is a grouping (not codable)."""
        root = self.root(pk)
        return self.name[root] if not self.codable[root] else ""

    def children(self) -> dict[int | None, list[int]]:
        """Each code's children (None: the top level), in the codebook's order."""
        return self.below

    def walk(self) -> list[tuple[int, int]]:
        """(code id, depth) depth first, siblings in the codebook's order, 0 at the top. An
        explicit stack, so that a deep tree cannot reach Python's recursion limit."""
        ordered: list[tuple[int, int]] = []
        stack = [(pk, 0) for pk in reversed(self.below.get(None, []))]
        while stack:
            pk, depth = stack.pop()
            ordered.append((pk, depth))
            stack.extend((child, depth + 1) for child in reversed(self.below.get(pk, [])))
        return ordered

    def tree_order(self) -> list[int]:
        """Depth first, siblings in the codebook's order: the order tables list codes in."""
        return [pk for pk, _depth in self.walk()]

    def subtree(self, pk: int) -> set[int]:
        """The code and every code below it."""
        found = {pk}
        frontier = [pk]
        while frontier:
            for child in self.below.get(frontier.pop(), []):
                if child not in found:
                    found.add(child)
                    frontier.append(child)
        return found

    def descendants(self, pk: int) -> set[int]:
        return self.subtree(pk) - {pk}

    def top_level(self, name: str) -> int | None:
        for pk in self.below.get(None, []):
            if self.name[pk] == name:
                return pk
        return None


def code_paths(codes: Iterable[Code]) -> dict[int, str]:
    """Every code's path ("Concept/negotiability") from codes already loaded, no queries."""
    return CodeTree.from_codes(codes).path


# The layers a person reads in the coding view, the codebook and a code's report: their own
# codings, every coder's own codings, and the adjudicated consensus.
LAYERS = {"mine": "My codings", "all": "All coders", "consensus": "Consensus"}


def layer_choices(access: Access) -> list[str]:
    """The layers `access` may read, the one rule for every page that offers them: a coder in a
    blind study reads only their own; a viewer codes nothing, so "mine" would always be empty."""
    if not access.sees_others:
        return ["mine"]
    if not access.can_code:
        return ["all", "consensus"]
    return ["mine", "all", "consensus"]


class CodingQuerySet(models.QuerySet["Coding"]):
    def coder_layer(self) -> CodingQuerySet:
        """Every person's own codings: the consensus and the machine layers left out."""
        return self.filter(consensus=False, coder__machine_coder__isnull=True)

    def by_people(self) -> CodingQuerySet:
        """Every person's codings and the consensus: what was coded, machine suggestions
        left out (they are not codings until a person accepts them)."""
        return self.filter(coder__machine_coder__isnull=True)

    def machine_layer(self) -> CodingQuerySet:
        """What models suggested: the codings of machine coders' accounts (MachineCoder)."""
        return self.filter(consensus=False, coder__machine_coder__isnull=False)

    def consensus_layer(self) -> CodingQuerySet:
        return self.filter(consensus=True)

    def layer(self, name: str, *, user: object = None) -> CodingQuerySet:
        """One layer: "consensus", "all" (every coder's own codings), "mine" (`user`'s own
        codings) or a coder's user id (that coder's own codings)."""
        if name == "consensus":
            return self.consensus_layer()
        if name == "all":
            return self.coder_layer()
        if name == "mine":
            return self.coder_layer().filter(coder=user)
        if isinstance(name, int):
            # One coder's layer, a machine's included: it is compared like anyone's.
            return self.filter(consensus=False, coder_id=name)
        raise ValueError(f"unknown layer {name!r}: use mine, all, consensus or a coder's id")

    def visible_to(self, access: Access) -> CodingQuerySet:
        """What `access` may see (`Access.sees_others`): with blind coding on, a coder gets only
        their own codings; the server never sends the others."""
        if not access.is_member:
            return self.none()
        if access.sees_others:
            return self
        return self.filter(coder=access.user, consensus=False)


class Coding(models.Model):
    """A span of a document's text [start, end) (code point offsets) tagged with a code by a
    coder. Overlaps are allowed; an identical span, code and coder is stored once. Consensus
    codings (the adjudicated layer) carry consensus=True; their coder is the adjudicator."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="codings")
    code = models.ForeignKey(Code, on_delete=models.RESTRICT, related_name="codings")
    coder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.RESTRICT, related_name="codings"
    )
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    consensus = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CodingQuerySet.as_manager()

    class Meta:
        ordering = ["document", "start", "end"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start__gte=0) & Q(start__lt=F("end")), name="coding_span_valid"
            ),
            models.UniqueConstraint(
                fields=["document", "code", "coder", "start", "end", "consensus"],
                name="coding_unique_span",
            ),
        ]
        indexes = [models.Index(fields=["document", "start"], name="coding_document_start")]

    def __str__(self) -> str:
        return f"{self.code} [{self.start}:{self.end}] by {self.coder}"

    @property
    def key(self) -> tuple[int, int, int, int, bool]:
        """What makes a coding of one coder unique (the constraint above, less the coder)."""
        return (self.document_id, self.code_id, self.start, self.end, self.consensus)


class MemoQuerySet(models.QuerySet["Memo"]):
    def visible_to(self, access: Access) -> MemoQuerySet:
        """The study's memos `access` may read: a memo on a coding goes where the coding goes,
        so blind coding hides memos on the other coders' codings (and on the consensus)."""
        memos = self.filter(study=access.study)
        if not access.is_member:
            return memos.none()
        if access.sees_others:
            return memos
        codings = Coding.objects.filter(document__study=access.study).visible_to(access)
        return memos.filter(Q(coding__isnull=True) | Q(coding__in=codings))

    def for_user(self, user: object) -> MemoQuerySet:
        """Memos of every study the user belongs to, each study under its own blind-coding
        rule (`visible_to`, asked once per study in which the user is blind to the others)."""
        memos = self.filter(study__in=Study.objects.for_user(user))
        if getattr(user, "is_superuser", False):
            return memos  # a superuser acts as an owner everywhere (studies.access.role_in)
        hidden = Q()
        for study_id, role, blind in Membership.objects.filter(user=user).values_list(
            "study_id", "role", "study__blind_coding"
        ):
            access = Access(Study(pk=study_id, blind_coding=blind), user, role)
            if not access.sees_others:
                hidden |= Q(study_id=study_id) & ~Q(pk__in=self.visible_to(access).values("pk"))
        return memos.exclude(hidden) if hidden else memos


class Memo(models.Model):
    """A researcher's note on the study, a document, a code or a coding (exactly one target)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="memos")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.RESTRICT, related_name="memos"
    )
    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, null=True, blank=True, related_name="memos"
    )
    code = models.ForeignKey(
        Code, on_delete=models.CASCADE, null=True, blank=True, related_name="memos"
    )
    coding = models.ForeignKey(
        Coding, on_delete=models.CASCADE, null=True, blank=True, related_name="memos"
    )
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MemoQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(document__isnull=True, code__isnull=True, coding__isnull=True)
                    | Q(document__isnull=False, code__isnull=True, coding__isnull=True)
                    | Q(document__isnull=True, code__isnull=False, coding__isnull=True)
                    | Q(document__isnull=True, code__isnull=True, coding__isnull=False)
                ),
                name="memo_one_target",
            ),
        ]

    def __str__(self) -> str:
        return f"Memo by {self.author} on {self.target_label}"

    @property
    def target_label(self) -> str:
        if self.coding_id:
            return f"a coding of {self.coding.code}"
        if self.code_id:
            return f"code {self.code}"
        if self.document_id:
            return f"document {self.document}"
        return "the study"


class Assignment(models.Model):
    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="assignments")
    coder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NOT_STARTED)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["document", "coder"]
        constraints = [
            models.UniqueConstraint(fields=["document", "coder"], name="assignment_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.document} → {self.coder} ({self.status})"


class SuggestionDecision(models.Model):
    """A person's answer to an automatic suggestion, so a rejected one is not offered again.
    Accepting creates an ordinary coding; nothing is coded without this decision."""

    class Verdict(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    code = models.ForeignKey(Code, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["document", "code", "user", "start", "end"], name="suggestion_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.verdict} {self.code} [{self.start}:{self.end}]"


UNIT_CHOICES = [("sentence", "Sentence"), ("turn", "Turn"), ("character", "Character")]


class AgreementRoundQuerySet(models.QuerySet["AgreementRound"]):
    def open(self) -> AgreementRoundQuerySet:
        return self.filter(closed_at__isnull=True)


class AgreementRound(models.Model):
    """A reliability exercise: the same documents coded independently by several coders.

    While a round is open the study codes blind; `blind_before` remembers the switch as it was so
    that closing the round puts it back. A study has at most one open round, so there is only ever
    one remembered value to restore. A sampled round keeps its share and seed: the same seed over
    the same documents draws the same sample (`coding.adjudication.sample_documents`)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="agreement_rounds")
    name = models.CharField(max_length=200)
    documents = models.ManyToManyField(Document, related_name="agreement_rounds")
    coders = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="agreement_rounds")
    sample_share = models.FloatField(
        null=True, blank=True, help_text="The share of documents drawn at random, 0 to 1."
    )
    seed = models.BigIntegerField(null=True, blank=True)
    unit = models.CharField(max_length=10, choices=UNIT_CHOICES, default="sentence")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    blind_before = models.BooleanField(default=False)

    objects = AgreementRoundQuerySet.as_manager()

    class Meta:
        ordering = ["study", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["study"],
                condition=Q(closed_at__isnull=True),
                name="agreement_round_one_open",
            ),
            models.CheckConstraint(
                condition=Q(sample_share__isnull=True) | Q(sample_share__gt=0, sample_share__lte=1),
                name="agreement_round_share_fraction",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class AdjudicationDecision(models.Model):
    """An owner's ruling on one (unit, code) where two coders disagree. The pair is stored with
    the lower user id as coder A (`coding.adjudication` swaps "a" and "b" to match), so comparing
    bob with alice finds the decisions taken while comparing alice with bob."""

    class Choice(models.TextChoices):
        A = "a", "Take A"
        B = "b", "Take B"
        BOTH = "both", "Both"
        NEITHER = "neither", "Neither"
        EDIT = "edit", "Edit by hand"

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="adjudication_decisions"
    )
    code = models.ForeignKey(Code, on_delete=models.CASCADE, related_name="adjudication_decisions")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    decision = models.CharField(max_length=8, choices=Choice.choices)
    coder_a = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    coder_b = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["document", "start", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "code", "start", "end", "coder_a", "coder_b"],
                name="adjudication_unique_unit_code_pair",
            ),
            models.CheckConstraint(
                condition=Q(start__gte=0) & Q(start__lt=F("end")), name="adjudication_span_valid"
            ),
            models.CheckConstraint(
                condition=Q(coder_a__lt=F("coder_b")), name="adjudication_pair_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} for {self.code} [{self.start}:{self.end}]"


class MachineCoder(models.Model):
    """A model that suggests codes, treated as one more coder: it has an account of its own, its
    suggestions are that account's codings (a layer no person's work is mixed into), and its
    agreement with the people is measured as between people. One row per engine, model and
    version: retraining makes a new version, so each layer says what made it."""

    class Engine(models.TextChoices):
        LEARNED = "learned", "Learned from this study"
        LLM = "llm", "Large language model"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="machine_coders")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="machine_coder"
    )
    engine = models.CharField(max_length=10, choices=Engine.choices)
    model_name = models.CharField(max_length=200, help_text="The learner or the LLM's model id.")
    version = models.PositiveIntegerField()
    trained_on = models.CharField(
        max_length=150, blank=True, help_text="The layer it learned from: consensus or a coder."
    )
    prompt_version = models.CharField(max_length=20, blank=True)
    options = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Cross-validated agreement, precision and coverage."
    )
    # The fitted learned model (the study's own data only), so that suggesting needs no training.
    artefact = models.BinaryField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "engine", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "engine", "model_name", "version"], name="machinecoder_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        source = f", from {self.trained_on}" if self.trained_on else ""
        return f"{self.get_engine_display()} {self.model_name} v{self.version}{source}"


class MachineScore(models.Model):
    """How sure the machine was of one of its codings (0..1): suggestions are offered least
    certain first, and precision and coverage are read over a threshold."""

    coding = models.OneToOneField(
        Coding, on_delete=models.CASCADE, primary_key=True, related_name="machine_score"
    )
    confidence = models.FloatField()

    def __str__(self) -> str:
        return f"{self.coding_id}: {self.confidence:.2f}"


class TrainingExample(models.Model):
    """A coder steering the learned engine: "more like this" on a coding (positive) or "not
    this" on a suggestion (negative) for a code on a span; used in the next training."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="training_examples")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    code = models.ForeignKey(Code, on_delete=models.CASCADE, related_name="training_examples")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    positive = models.BooleanField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "code", "start", "end", "user"], name="trainingexample_unique"
            ),
            models.CheckConstraint(
                condition=Q(start__gte=0) & Q(start__lt=F("end")), name="trainingexample_span"
            ),
        ]

    def __str__(self) -> str:
        return f"{'+' if self.positive else '-'} {self.code} [{self.start}:{self.end}]"


class IdempotencyKey(models.Model):
    """The first successful answer to a coding request sent with an `Idempotency-Key` header
    (coding.idempotency). Written in the same transaction as the codings it answers, and unique
    per person and key, so two requests with one key can never both write."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # "POST /api/v1/codings/ <SHA-256 of the body>": the same key with another request is refused.
    fingerprint = models.TextField()
    status = models.PositiveSmallIntegerField()
    body = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotencykey_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"
