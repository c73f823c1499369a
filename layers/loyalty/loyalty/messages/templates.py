"""Message templates per kind and locale: `{"subject", "text", "html"}` with placeholders like `{{ member.name }}`.

Checked when written (an unknown placeholder, a loop, a macro, an attribute or item starting with `_`: refused
with the field and the reason) and rendered in Jinja2's immutable sandbox with undefined names strict, so a
template reaches nothing but the values it is given; the HTML part is autoescaped; output is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from loyalty.messages.kinds import Kind

FIELDS = ("subject", "text", "html")
MAX_SOURCE = 20_000
MAX_OUTPUT = 100_000
SAMPLE = {"member": {"name": "Sam", "member_id": "m0000000000000000000"}, "program": {"name": "Demo"},
          "points": 300, "expires_on": "2027-11-30", "tier": "Gold", "previous_tier": "Silver",
          "reward_id": "coffee-any-size", "voucher_code": "K7QF4M2XPA",
          "offer": {"campaign_id": "win-back", "name": "Double points", "description": "On your next coffee", "ends_at": None}}


class TemplateRefused(ValueError):
    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


MAX_NUMBER = 10**15  # what arithmetic in a template may reach


@cache
def _environment(html: bool):
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Bounded(ImmutableSandboxedEnvironment):
        """No repetition of text or lists (`'x' * 10**9` would fill memory before the output bound is checked), no
        powers, and numbers within MAX_NUMBER: a template cannot make the renderer work without end."""

        intercepted_binops = frozenset({"*", "**", "//", "%"})

        def call_binop(self, context, operator, left, right):
            if operator == "**" or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right)):
                raise SecurityError(f"{operator} is not allowed on these values in a template")
            result = super().call_binop(context, operator, left, right)
            if abs(result) > MAX_NUMBER:
                raise SecurityError(f"a number in a template may not exceed {MAX_NUMBER}")
            return result

    environment = Bounded(undefined=StrictUndefined, autoescape=html, keep_trailing_newline=True)
    environment.globals.clear()  # no range, cycler, lipsum, namespace...: only the values a message is given
    return environment


def _problems(kind: Kind, name: str, source: str) -> list[str]:
    from jinja2 import TemplateSyntaxError, nodes
    from jinja2.meta import find_undeclared_variables

    if len(source) > MAX_SOURCE:
        return [f"longer than {MAX_SOURCE} characters"]
    try:
        tree = _environment(name == "html").parse(source)
    except TemplateSyntaxError as error:
        return [f"not a valid template (line {error.lineno}): {error.message}"]
    found = []
    unknown = sorted(find_undeclared_variables(tree) - kind.placeholders)
    if unknown:
        found.append(f"unknown placeholder(s) {', '.join(unknown)}; {kind.name} may use {', '.join(sorted(kind.placeholders))}")
    for node in tree.find_all((nodes.For, nodes.Macro, nodes.CallBlock, nodes.Call, nodes.Import, nodes.FromImport,
                               nodes.Include, nodes.Extends, nodes.Assign, nodes.AssignBlock)):
        found.append(f"{type(node).__name__.lower()} is not allowed: placeholders, filters and if only")
        break
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(key, str) and key.startswith("_"):
            found.append(f"{key} is not a value a template may read")
            break
    return found


def check(kind: Kind, template: dict[str, str]) -> dict[str, str]:
    """The template if every part is allowed and renders with sample values; else TemplateRefused."""
    problems = [{"field": name, "message": message} for name in FIELDS for message in _problems(kind, name, template[name])]
    if not problems:
        try:
            render(kind, template, SAMPLE)
        except Exception as error:  # noqa: BLE001 - whatever the sandbox refuses, the writer is told
            problems.append({"field": "template", "message": f"does not render: {error}"})
    if problems:
        raise TemplateRefused(problems)
    return template


def render(kind: Kind, template: dict[str, str], values: dict[str, Any]) -> Rendered:
    """The message, from a checked template and the values its kind provides (anything else is not passed)."""
    given = {name: value for name, value in values.items() if name in kind.placeholders}
    parts = {}
    for name in FIELDS:
        output = _environment(name == "html").from_string(template[name]).render(given)
        if len(output) > MAX_OUTPUT:
            raise ValueError(f"{name} renders longer than {MAX_OUTPUT} characters")
        parts[name] = output
    return Rendered(**parts)


def demo_templates() -> dict[tuple[str, str], dict[str, str]]:
    """The demo program's templates: {(kind, locale): template}."""
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parent / "data" / "templates.json").read_text(encoding="utf-8"))
    return {(kind, locale): template for kind, locales in data.items() for locale, template in locales.items()}
