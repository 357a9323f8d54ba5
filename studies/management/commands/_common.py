"""Helpers shared by the import commands."""

from pathlib import Path

from django.core.management.base import CommandError

from studies.models import Study


def get_study(slug: str) -> Study:
    study = Study.objects.filter(slug=slug).first()
    if study is None:
        raise CommandError(f"--study {slug!r}: no such study (create it with create_study)")
    return study


def read_file(path: str) -> tuple[str, bytes]:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        return file.name, file.read_bytes()
    except OSError as exc:
        raise CommandError(f"{path}: cannot be read ({exc.strerror})") from None
