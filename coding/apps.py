from django.apps import AppConfig


class CodingConfig(AppConfig):
    name = "coding"
    verbose_name = "Coding"

    def ready(self) -> None:
        from coding.api import study_counts
        from studies.api import STUDY_COUNTERS

        if study_counts not in STUDY_COUNTERS:
            STUDY_COUNTERS.append(study_counts)
