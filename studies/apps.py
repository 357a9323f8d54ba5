from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "studies"
    verbose_name = "Studies"

    def ready(self) -> None:
        # Connects the receiver that deletes a recording's stored file with its row.
        from studies import recordings  # noqa: F401
