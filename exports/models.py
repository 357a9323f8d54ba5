"""What the exports app stores: the identities objects have in REFI-QDA files."""

from __future__ import annotations

from django.db import models

from studies.models import Study


class ExchangeId(models.Model):
    """The GUID an object of a study has in REFI-QDA (.qdpx, .qdc) files, where it differs from
    the one we derive (`exports.qdpx`): an object that came in from another tool keeps the GUID
    that tool gave it, so that a second import finds it again and our exports hand it back
    under the same identity. Our own objects need no row: their GUIDs are derived, stable
    across exports."""

    class Kind(models.TextChoices):
        USER = "user", "User"
        CODE = "code", "Code"
        DOCUMENT = "document", "Source"
        PARTICIPANT = "participant", "Case"
        VARIABLE = "variable", "Variable"
        MEMO = "memo", "Note"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    object_id = models.PositiveBigIntegerField()
    guid = models.UUIDField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["study", "kind", "object_id"], name="exchangeid_unique_object"
            ),
            models.UniqueConstraint(
                fields=["study", "kind", "guid"], name="exchangeid_unique_guid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} = {self.guid}"
