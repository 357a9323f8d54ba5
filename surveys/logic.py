"""Display logic: the XLSForm subset of `relevant` expressions, evaluated on the server.

    ${trust} >= 3 and selected(${domains}, 'hiring')
    not(${consent} = 'no') or string-length(${why}) > 0

Supported: `${code}` references, string ('...' or "...") and number literals, `=`, `!=`, `>`,
`>=`, `<`, `<=`, `and`, `or` (`and` binds tighter), `not(...)`, parentheses, `true()`,
`false()`, `selected(${code}, 'option')`, `count-selected(${code})` and
`string-length(${code})`. Every answer is a string, as in XLSForm; an unanswered question is
the empty string. A comparison of two number-like values compares numbers, otherwise strings.

The expression is read by a hand-written tokenizer and recursive-descent parser into a small
tree and never handed to `eval`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Value = str | float | bool


class LogicError(ValueError):
    """A malformed expression; the message names the position (counted from 1)."""

    def __init__(self, message: str, position: int, expression: str) -> None:
        super().__init__(f"{message} at position {position + 1} of {expression!r}")
        self.position = position
        self.expression = expression


@dataclass(frozen=True)
class Token:
    kind: str  # ref, number, string, name, op, lparen, rparen, comma, end
    text: str
    position: int


TOKEN = re.compile(
    r"""(?P<space>\s+)
      | \$\{(?P<ref>[A-Za-z][A-Za-z0-9_]*)\}
      | (?P<number>-?(?:\d+\.?\d*|\.\d+))
      | '(?P<squote>[^']*)'
      | "(?P<dquote>[^"]*)"
      | (?P<op>!=|>=|<=|=|>|<)
      | (?P<name>[A-Za-z][A-Za-z0-9_-]*)
      | (?P<lparen>\()
      | (?P<rparen>\))
      | (?P<comma>,)
    """,
    re.VERBOSE,
)


def tokenize(expression: str) -> list[Token]:
    tokens, at = [], 0
    while at < len(expression):
        match = TOKEN.match(expression, at)
        if not match:
            if expression.startswith("${", at):
                raise LogicError("A reference must look like ${code}", at, expression)
            if expression[at] in "'\"":
                raise LogicError("A text is not closed", at, expression)
            raise LogicError(f"Unexpected {expression[at]!r}", at, expression)
        kind = match.lastgroup
        if kind in ("squote", "dquote"):
            tokens.append(Token("string", match.group(kind), at))
        elif kind != "space":
            tokens.append(Token(kind, match.group(kind), at))
        at = match.end()
    tokens.append(Token("end", "", len(expression)))
    return tokens


def shown(token: Token) -> str:
    if token.kind == "end":
        return "the end"
    return repr("${" + token.text + "}" if token.kind == "ref" else token.text)


FUNCTIONS = {  # name -> number of arguments
    "not": 1,
    "selected": 2,
    "count-selected": 1,
    "string-length": 1,
    "true": 0,
    "false": 0,
}

# The tree: ("ref", code) | ("lit", value) | ("or"|"and", left, right) | ("cmp", op, left, right)
# | ("call", name, [arguments])
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = tokenize(expression)
        self.at = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def fail(self, message: str, token: Token | None = None) -> LogicError:
        token = token or self.token
        return LogicError(message, token.position, self.expression)

    def take(self, kind: str, what: str) -> Token:
        token = self.token
        if token.kind != kind:
            raise self.fail(f"Expected {what}, found {shown(token)}")
        self.at += 1
        return token

    def keyword(self, word: str) -> bool:
        if self.token.kind == "name" and self.token.text == word:
            self.at += 1
            return True
        return False

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.fail("The expression is empty")
        node = self.either()
        if self.token.kind != "end":
            raise self.fail(f"Unexpected {self.token.text!r}")
        return node

    def either(self) -> Node:
        node = self.both()
        while self.keyword("or"):
            node = ("or", node, self.both())
        return node

    def both(self) -> Node:
        node = self.comparison()
        while self.keyword("and"):
            node = ("and", node, self.comparison())
        return node

    def comparison(self) -> Node:
        node = self.primary()
        if self.token.kind == "op":
            op = self.take("op", "a comparison").text
            node = ("cmp", op, node, self.primary())
            if self.token.kind == "op":
                raise self.fail("Comparisons cannot be chained; join them with 'and'")
        return node

    def primary(self) -> Node:
        token = self.token
        if token.kind == "ref":
            self.at += 1
            return ("ref", token.text)
        if token.kind == "number":
            self.at += 1
            return ("lit", float(token.text))
        if token.kind == "string":
            self.at += 1
            return ("lit", token.text)
        if token.kind == "lparen":
            self.at += 1
            node = self.either()
            self.take("rparen", "')'")
            return node
        if token.kind == "name":
            if token.text in ("and", "or"):
                raise self.fail(f"{token.text!r} needs something on its left")
            if token.text not in FUNCTIONS:
                raise self.fail(f"Unknown function {token.text!r}")
            self.at += 1
            self.take("lparen", f"'(' after {token.text}")
            arguments = []
            if self.token.kind != "rparen":
                arguments.append(self.either())
                while self.token.kind == "comma":
                    self.at += 1
                    arguments.append(self.either())
            self.take("rparen", "')'")
            if len(arguments) != FUNCTIONS[token.text]:
                raise self.fail(
                    f"{token.text}() takes {FUNCTIONS[token.text]} argument(s), "
                    f"not {len(arguments)}",
                    token,
                )
            return ("call", token.text, arguments)
        raise self.fail(f"Expected a value, found {shown(token)}")


@dataclass(frozen=True)
class Expression:
    source: str
    tree: Node

    def evaluate(self, answers: Mapping[str, str]) -> bool:
        return truthy(_evaluate(self.tree, answers))

    @property
    def references(self) -> list[str]:
        found: list[str] = []
        _collect(self.tree, found)
        return list(dict.fromkeys(found))


def parse(expression: str) -> Expression:
    """The expression read into a tree; raises LogicError naming the position of bad syntax."""
    return Expression(expression, _Parser(expression).parse())


def references(expression: str) -> list[str]:
    """The question codes an expression uses, in order of first use (none for a blank one)."""
    return parse(expression).references if expression.strip() else []


def _collect(node: Node, found: list[str]) -> None:
    if node[0] == "ref":
        found.append(node[1])
    elif node[0] in ("or", "and"):
        _collect(node[1], found)
        _collect(node[2], found)
    elif node[0] == "cmp":
        _collect(node[2], found)
        _collect(node[3], found)
    elif node[0] == "call":
        for argument in node[2]:
            _collect(argument, found)


def truthy(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value != 0
    return value != ""


def as_number(value: Value) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    try:
        return float(value.strip()) if value.strip() else None
    except ValueError:
        return None


def as_text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return value


def compare(op: str, left: Value, right: Value) -> bool:
    a, b = as_number(left), as_number(right)
    if a is not None and b is not None:
        pair: tuple[Any, Any] = (a, b)
    elif isinstance(left, float) or isinstance(right, float):
        # A number against an empty or non-numeric answer: unequal and unordered (ODK's NaN).
        return op == "!="
    else:
        pair = (as_text(left), as_text(right))
    x, y = pair
    return {
        "=": x == y,
        "!=": x != y,
        ">": x > y,
        ">=": x >= y,
        "<": x < y,
        "<=": x <= y,
    }[op]


def _evaluate(node: Node, answers: Mapping[str, str]) -> Value:
    kind = node[0]
    if kind == "ref":
        return str(answers.get(node[1]) or "")
    if kind == "lit":
        return node[1]
    if kind == "or":
        return truthy(_evaluate(node[1], answers)) or truthy(_evaluate(node[2], answers))
    if kind == "and":
        return truthy(_evaluate(node[1], answers)) and truthy(_evaluate(node[2], answers))
    if kind == "cmp":
        return compare(node[1], _evaluate(node[2], answers), _evaluate(node[3], answers))
    name, arguments = node[1], [_evaluate(argument, answers) for argument in node[2]]
    if name == "not":
        return not truthy(arguments[0])
    if name == "true":
        return True
    if name == "false":
        return False
    if name == "selected":
        return as_text(arguments[1]) in as_text(arguments[0]).split()
    if name == "count-selected":
        return float(len(as_text(arguments[0]).split()))
    return float(len(as_text(arguments[0])))  # string-length


def visible(item: Any, answers: Mapping[str, str]) -> bool:
    """Whether a question or page is shown given the answers so far (unanswered = empty). A
    question on a hidden page is hidden too. A condition that does not parse shows the item:
    better an extra question than a lost one (`problems` reports it to the survey's owner)."""
    conditions = [getattr(item, "relevant", "")]
    page = getattr(item, "page", None) if hasattr(item, "kind") else None
    if page is not None:
        conditions.append(page.relevant)
    for condition in conditions:
        if not (condition or "").strip():
            continue
        try:
            if not parse(condition).evaluate(answers):
                return False
        except LogicError:
            continue
    return True


def problems(items: Sequence[tuple[str, str, str]]) -> list[str]:
    """What is wrong with the conditions of an instrument, given as (name, code, condition) in
    the order the respondent meets them (a page's name with an empty code precedes its
    questions). A condition may refer only to questions that come earlier."""
    found, earlier, known = [], set(), {code for _name, code, _condition in items if code}
    for name, code, condition in items:
        if condition.strip():
            try:
                used = references(condition)
            except LogicError as error:
                found.append(f"{name}: {error}")
                used = []
            for reference in used:
                if reference not in known:
                    found.append(
                        f"{name}: its condition refers to ${{{reference}}}, no such question"
                    )
                elif reference not in earlier:
                    found.append(
                        f"{name}: its condition refers to ${{{reference}}}, which does not come "
                        "earlier"
                    )
        if code:
            earlier.add(code)
    return found


def survey_problems(survey: Any) -> list[str]:
    """`problems` for a survey: its pages in order, each with its questions (the questions
    without a page come last, as one more page)."""
    items: list[tuple[str, str, str]] = []
    questions = list(survey.questions.all())
    for page in survey.pages.all():
        items.append((str(page), "", page.relevant))
        items += [
            (f"Question {q.code}", q.code, q.relevant) for q in questions if q.page_id == page.pk
        ]
    items += [(f"Question {q.code}", q.code, q.relevant) for q in questions if q.page_id is None]
    return problems(items)
