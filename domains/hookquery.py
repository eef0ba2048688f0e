"""The small query grammar of hooks' ``parsed_query`` (as Camio documents it).

    query      := or
    or         := and ("or" and)*
    and        := unary ("and" unary)*
    unary      := "not" unary | "(" query ")" | comparison
    comparison := operand OP operand        (exactly one side a field)
    OP         := in | < | <= | > | >= | == | !=
    field      := camera | labels | date
    operand    := field | 'string' | "string" | number | [operand, ...]

Only checked, never run: the portal stores hooks and emits hook.* events.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

FIELDS = frozenset({"camera", "labels", "date"})
OPERATORS = frozenset({"in", "<", "<=", ">", ">=", "==", "!="})
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op><=|>=|==|!=|<|>)
  | (?P<punct>[()\[\],])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
)""",
    re.VERBOSE,
)
MAX_LENGTH = 2000


def _tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise ValidationError(
                f"Unexpected character {text[position:].strip()[:1]!r} at position {position + 1}."
            )
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "word" and value in ("and", "or", "not", "in"):
            kind = value if value != "in" else "op"
        found.append((kind, value))
        position = match.end()
    return found


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.at = tokens, 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "end of query")

    def take(self, kind: str, value: str | None = None) -> str:
        got_kind, got = self.peek()
        if got_kind != kind or (value is not None and got != value):
            raise ValidationError(f"Expected {value or kind} but found {got!r}.")
        self.at += 1
        return got

    def query(self) -> None:
        self.conjunction()
        while self.peek()[0] == "or":
            self.at += 1
            self.conjunction()

    def conjunction(self) -> None:
        self.unary()
        while self.peek()[0] == "and":
            self.at += 1
            self.unary()

    def unary(self) -> None:
        kind, value = self.peek()
        if kind == "not":
            self.at += 1
            self.unary()
        elif value == "(":
            self.at += 1
            self.query()
            self.take("punct", ")")
        else:
            self.comparison()

    def comparison(self) -> None:
        left = self.operand()
        operator = self.take("op")
        right = self.operand()
        if (left == "field") == (right == "field"):
            raise ValidationError(
                f"Each comparison needs one field ({', '.join(sorted(FIELDS))}) "
                f"and one value, around {operator!r}."
            )

    def operand(self) -> str:
        kind, value = self.peek()
        if kind == "word":
            if value not in FIELDS:
                raise ValidationError(
                    f"Unknown field {value!r}; use one of {', '.join(sorted(FIELDS))}."
                )
            self.at += 1
            return "field"
        if kind in ("string", "number"):
            self.at += 1
            return "value"
        if value == "[":
            self.at += 1
            if self.peek()[1] != "]":
                self._value()
                while self.peek()[1] == ",":
                    self.at += 1
                    self._value()
            self.take("punct", "]")
            return "value"
        raise ValidationError(f"Expected a field or a value but found {value!r}.")

    def _value(self) -> None:
        if self.operand() == "field":
            raise ValidationError("A list holds values, not fields.")


def validate_query(text: str) -> str:
    """Return ``text`` stripped if it follows the grammar, else raise ValidationError."""
    text = (text or "").strip()
    if not text:
        raise ValidationError(
            "Enter a query, such as: camera == 'Front Entrance' and labels in ['person']."
        )
    if len(text) > MAX_LENGTH:
        raise ValidationError(f"The query is longer than {MAX_LENGTH} characters.")
    parser = _Parser(_tokens(text))
    try:
        parser.query()
    except RecursionError:
        raise ValidationError("The query nests parentheses or lists too deeply.") from None
    if parser.at != len(parser.tokens):
        raise ValidationError(f"Unexpected {parser.peek()[1]!r} after a complete query.")
    return text
