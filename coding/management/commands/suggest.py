"""Machine-assisted coding from the command line: train the learned engine on a layer and
suggest codes, or ask the LLM engine. Suggestions are the machine's own layer: nobody's codings
change until a person accepts them."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from coding.machine import MachineError
from coding.models import Coding, MachineCoder
from studies.models import Document, Study


def format_kappa(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def metrics_table(metrics: dict) -> str:
    """The cross-validated agreement per code, as `train` stored it."""
    header = f"{'code':<36}{'positives':>10}{'kappa':>8}{'before':>8}{'prec@.5':>9}{'cov@.5':>8}"
    lines = [
        f"Cross-validated on the {metrics['layer']} layer: {metrics['sentences']:,} sentences "
        f"of {metrics['documents']} documents, {metrics['k']} folds by document",
        header,
        "-" * len(header),
    ]
    for row in metrics["codes"]:
        if not row["learned"]:
            lines.append(f"{row['path'][:35]:<36}{row['positives']:>10,}  {row['note']}")
            continue
        first = row["precision_coverage"][0]
        lines.append(
            f"{row['path'][:35]:<36}{row['positives']:>10,}{format_kappa(row['kappa']):>8}"
            f"{format_kappa(row.get('previous_kappa')):>8}"
            f"{format_kappa(first['precision']):>9}{format_kappa(first['coverage']):>8}"
        )
    mean = metrics.get("mean_kappa")
    lines.append(f"Mean kappa over learned codes: {format_kappa(mean)}")
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Suggest codes with a machine engine: the learned engine (trained on a layer of the "
        "study, --train) or the LLM engine. Suggestions form the machine's own layer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, help="The study's slug")
        parser.add_argument("--engine", required=True, choices=["learned", "llm"])
        parser.add_argument(
            "--documents",
            nargs="+",
            metavar="ID_OR_TITLE",
            help="Documents to suggest for (default for learned: those the training layer did "
            "not code; for llm: every document)",
        )
        parser.add_argument(
            "--train", action="store_true", help="Learned: train a new version first"
        )
        parser.add_argument(
            "--layer",
            help="Learned: the layer to learn from, consensus or a coder's username (default "
            "consensus with --train; without it, the latest version's layer)",
        )
        parser.add_argument(
            "--threshold",
            type=float,
            default=0.5,
            help="Learned: suggest only at or above this confidence (0 to 1, default 0.5)",
        )

    def handle(self, *args: object, **options: object) -> None:
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"--study {options['study']!r}: no such study")
        documents = self._documents(study, options["documents"])
        try:
            if options["engine"] == "llm":
                self._llm(study, documents)
            else:
                self._learned(study, documents, options)
        except MachineError as exc:
            raise CommandError(str(exc)) from None

    def _documents(self, study: Study, wanted: list[str] | None) -> list[Document] | None:
        if not wanted:
            return None
        found: list[Document] = []
        for value in wanted:
            match = Q(title=value) | (Q(pk=int(value)) if value.isdigit() else Q())
            document = study.documents.filter(match).order_by("pk").first()
            if document is None:
                raise CommandError(f"--documents {value!r}: no such document in {study.slug}")
            found.append(document)
        return list(dict.fromkeys(found))

    def _learned(self, study: Study, documents: list[Document] | None, options: dict) -> None:
        from coding.machine import learned

        threshold = options["threshold"]
        if not 0 <= threshold <= 1:
            raise CommandError(f"--threshold {threshold}: use a number from 0 to 1")
        layer = options["layer"]
        if options["train"]:
            machine = learned.train(study, layer or "consensus")
            self.stdout.write(metrics_table(machine.metrics))
            self.stdout.write(
                f"Trained {machine.label} in {machine.metrics['seconds']['training']:.1f} s."
            )
        else:
            versions = MachineCoder.objects.filter(
                study=study, engine=learned.ENGINE, model_name=learned.MODEL_NAME
            )
            if layer:
                learned.layer_codings(study, layer)  # a clear error for an unknown layer
                versions = versions.filter(trained_on=layer)
            machine = versions.order_by("-version").first()
            if machine is None:
                on = f" on the {layer} layer" if layer else ""
                raise CommandError(
                    f"no learned model{on} in {study.slug}: train first with --train"
                )
        if documents is None:
            _name, codings = learned.layer_codings(study, machine.trained_on)
            coded = codings.values_list("document_id", flat=True)
            documents = list(study.documents.exclude(pk__in=coded).order_by("pk"))
        written = learned.suggest(machine, documents, threshold=threshold)
        self.stdout.write(
            f"{machine.label} suggested {written:,} codings in {len(documents)} documents "
            f"(confidence >= {threshold:g}); {machine.user.get_username()}'s layer now holds "
            f"{Coding.objects.filter(coder=machine.user).count():,}."
        )

    def _llm(self, study: Study, documents: list[Document] | None) -> None:
        try:
            from coding.machine.llm import suggest_llm
        except ImportError:
            raise CommandError("the LLM engine is not available") from None
        run = suggest_llm(study, documents, user=None)
        report = getattr(run, "report", None)
        self.stdout.write(report() if callable(report) else str(run))
