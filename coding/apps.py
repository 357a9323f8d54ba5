from django.apps import AppConfig


class CodingConfig(AppConfig):
    name = "coding"
    verbose_name = "Coding"

    def ready(self) -> None:
        from coding.api import study_counts
        from studies.api import STUDY_COUNTERS

        if study_counts not in STUDY_COUNTERS:
            STUDY_COUNTERS.append(study_counts)

        from coding.views.participant import codings_panel
        from studies.views import PARTICIPANT_PANELS

        if codings_panel not in PARTICIPANT_PANELS:
            PARTICIPANT_PANELS.append(codings_panel)

        from coding.idempotency import cleanup_step
        from studies.housekeeping import register

        register(cleanup_step)
