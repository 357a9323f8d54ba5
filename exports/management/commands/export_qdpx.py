from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exports.qdpx import write_qdc, write_qdpx
from studies.audit import record_export
from studies.management.commands._common import get_study


class Command(BaseCommand):
    help = (
        "Export a study as a REFI-QDA project (.qdpx) for NVivo, ATLAS.ti, MAXQDA or "
        "QualCoder, or its codebook alone (-o FILE.qdc)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, help="The study's slug")
        parser.add_argument("-o", "--output", required=True, help="FILE.qdpx or FILE.qdc")

    def handle(self, *args: object, study: str, output: str, **options: object) -> None:
        target = get_study(study)
        path = Path(output)
        suffix = path.suffix.lower()
        if suffix not in (".qdpx", ".qdc"):
            raise CommandError(f"-o {output}: name a .qdpx (project) or .qdc (codebook) file")
        if suffix == ".qdc":
            data, said = write_qdc(target), "the codebook"
        else:
            data, counts = write_qdpx(target)
            said = (
                f"{counts.codes:,} codes, {counts.sources:,} sources, {counts.codings:,} "
                f"codings by {counts.users:,} users, {counts.cases:,} cases"
            )
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise CommandError(f"-o {output}: cannot be written ({exc.strerror})") from None
        record_export(
            target, "the codebook" if suffix == ".qdc" else "the REFI-QDA project", path.name
        )
        self.stdout.write(f"Wrote {output}: {said}.")
