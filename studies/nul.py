"""A request's text may not hold a NUL character (U+0000).

PostgreSQL can neither store nor compare one in a text column, so a NUL reaching a query (a
query parameter such as `?layer=`, a slug or username a body refers to) failed there with a
server error, while SQLite took it. No field of Colloquy has a use for one, so it is refused
where a request is read, with a 400 naming the parameter or the place in the body:

- `RefuseNulMiddleware`: the query string and form bodies (`application/x-www-form-urlencoded`),
  for every page and endpoint;
- `JSONParser` and `MultiPartParser`: the API's parsers, for JSON bodies and the text fields of
  multipart uploads (the uploaded files themselves are bytes and may hold anything).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from rest_framework import parsers
from rest_framework.exceptions import ParseError

NUL = "\x00"


def shown(text: str) -> str:
    """The text with its NULs written out, fit to be named in a message."""
    return text.replace(NUL, "\\u0000")


def nul_at(data: Any, where: str = "") -> str | None:
    """Where the first NUL in parsed data sits (in a key or a string, inside objects and lists),
    as a path such as `codings[3].text`, or None when there is none."""
    if isinstance(data, str):
        return where if NUL in data else None
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{where}.{shown(str(key))}" if where else shown(str(key))
            if NUL in str(key):
                return path
            found = nul_at(value, path)
            if found is not None:
                return found
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            found = nul_at(value, f"{where}[{index}]")
            if found is not None:
                return found
    return None


def nul_parameter(pairs: Iterable[tuple[str, list[str]]]) -> str | None:
    """The first parameter (of a QueryDict's lists()) whose name or a value holds a NUL."""
    for name, values in pairs:
        if NUL in name or any(NUL in value for value in values):
            return shown(name)
    return None


def message(what: str) -> str:
    return f"{what} holds a NUL character (\\u0000), which no field accepts."


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = nul_parameter(request.GET.lists())
        if name is not None:
            return self.refuse(request, message(f"The query parameter '{name}'"))
        if request.content_type == "application/x-www-form-urlencoded":
            name = nul_parameter(request.POST.lists())
            if name is not None:
                return self.refuse(request, message(f"The form field '{name}'"))
        return self.get_response(request)

    @staticmethod
    def refuse(request: HttpRequest, text: str) -> HttpResponse:
        if request.path.startswith("/api/"):
            # As the API's parsers answer (DRF's ParseError, through the exception handler).
            return JsonResponse({"detail": text, "code": "parse_error"}, status=400)
        return HttpResponseBadRequest(text, content_type="text/plain; charset=utf-8")


def refuse_nul(data: Any) -> Any:
    where = nul_at(data)
    if where is not None:
        raise ParseError(message(f"The request body at '{where}'" if where else "The request body"))
    return data


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return refuse_nul(super().parse(stream, media_type, parser_context))


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        result = super().parse(stream, media_type, parser_context)
        name = nul_parameter(result.data.lists())
        if name is not None:
            raise ParseError(message(f"The request body at '{name}'"))
        return result
