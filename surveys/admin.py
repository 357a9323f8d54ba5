from django.contrib import admin

from surveys.models import Answer, Invitation, Option, Page, Question, Response, Survey, Translation


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 0
    fields = ["order", "code", "kind", "label", "required", "relevant", "page"]


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "study", "languages", "wave_of", "opens_at", "closes_at"]
    list_filter = ["study"]
    inlines = [QuestionInline]


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ["code", "kind", "survey", "required", "order"]
    list_filter = ["survey", "kind"]


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["survey", "participant", "started_at", "submitted_at", "source"]
    list_filter = ["survey", "source"]


for model in (Page, Option, Translation, Invitation, Answer):
    admin.site.register(model)
