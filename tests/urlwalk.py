"""Every URL of the site, built from the URLconf: the walks over the site (who sees what, and
how each page looks in a browser) share this, so that a page added anywhere is walked without
anyone listing it. A URL parameter no walk has a value for fails the walk, naming it."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.regex_helper import normalize


@dataclass(frozen=True)
class Values:
    """What a walk fills URLs with, and where to add a missing one (named in the failure)."""

    by_param: Mapping[str, Sequence[str]]  # URL parameter -> the values to walk it with
    pks: Mapping[str, str]  # API resource (the path segment before {pk}) -> the object to open
    where: str  # e.g. "`values` in the walked fixture of tests/test_visibility_walk.py"


def url_patterns() -> Iterator[tuple[str, str, str]]:
    """(regex of the whole path, its pattern as written, its name with namespace) for every
    pattern of the URLconf, through every include."""

    def walk(resolver: URLResolver, regex: str, shown: str, namespace: str) -> Iterator:
        for entry in resolver.url_patterns:
            part = entry.pattern.regex.pattern.removeprefix("^")
            written = str(entry.pattern)
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                yield from walk(entry, regex + part, shown + written, inner)
            else:
                assert isinstance(entry, URLPattern)
                name = f"{namespace}{entry.name}" if entry.name else ""
                yield regex + part, shown + written, name

    yield from walk(get_resolver(), "", "", "")


def skipped(written: str) -> bool:
    # The admin site is Django's own, for superusers only, and no study member has an account
    # there; its pages are not the study's pages.
    if written.startswith("admin/"):
        return True
    # Static files are the stylesheet and scripts, the same for everyone.
    static = (settings.STATIC_URL or "").lstrip("/")
    if static and written.startswith(static):
        return True
    # Logging out would end the session the walk is using.
    return written == "logout/"


def fill(template: str, params: list[str], values: Values, source: str) -> list[dict[str, str]]:
    """Every combination of values for `params`; `pk` and `id` take the object of the resource
    named by the path segment before them."""
    choices = []
    for param in params:
        if param in ("pk", "id"):
            before = template.split(f"%({param})s")[0].rstrip("/").rsplit("/", 1)[-1]
            if before not in values.pks:
                pytest.fail(
                    f"{source}: no {param} for the resource {before!r}; add one to the pks of "
                    f"{values.where}"
                )
            choices.append([values.pks[before]])
        elif param in values.by_param:
            choices.append(list(values.by_param[param]))
        else:
            pytest.fail(
                f"{source}: no value for the URL parameter {param!r}; add one to {values.where}"
            )
    return [dict(zip(params, combination, strict=True)) for combination in product(*choices)]


@dataclass(frozen=True)
class Built:
    url: str
    written: str  # the pattern as written in the URLconf
    name: str  # its name with namespace
    params: tuple[str, ...]


def urlconf_urls(values: Values) -> list[Built]:
    """Every URL of the URLconf but those `skipped`, with every combination of values."""
    found = []
    for regex, written, name in url_patterns():
        if skipped(written):
            continue
        built, params = [], []
        for template, params in normalize(regex):
            for chosen in fill(template, params, values, written):
                path = template % chosen
                # A value a pattern does not accept (".json" for "codings.json") is not walked.
                if re.fullmatch(regex, path):
                    built.append("/" + path)
        if not built:
            pytest.fail(f"{written}: none of the values for {params} fit; add one that does")
        found += [Built(url, written, name, tuple(params)) for url in built]
    return found
