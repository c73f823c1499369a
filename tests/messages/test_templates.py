"""Message templates: checked when written (unknown placeholders, loops, escapes refused) and rendered in the
sandbox; the demo templates cover every kind in two locales."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from loyalty.messages.kinds import KINDS
from loyalty.messages.templates import SAMPLE, TemplateRefused, check, demo_templates, render

WELCOME = KINDS["welcome"]


def template(**parts):
    return {"subject": "Hi", "text": "Hello", "html": "<p>Hello</p>", **parts}


def test_the_demo_templates_cover_every_kind_in_english_and_one_other_locale_and_all_pass_the_check():
    templates = demo_templates()
    assert {kind for kind, _ in templates} == set(KINDS)
    for kind in KINDS:
        assert {locale for k, locale in templates if k == kind} == {"en", "de"}
    for (kind, _), body in templates.items():
        check(KINDS[kind], body)


def test_a_template_renders_its_values_and_escapes_html():
    body = template(subject="{{ points }} points for {{ member.name }}", html="<p>{{ member.name }}</p>")
    out = render(WELCOME, check(WELCOME, body), {**SAMPLE, "member": {"name": "<script>x</script>"}})
    assert out.subject == "50 points for <script>x</script>".replace("50", str(SAMPLE["points"]))
    assert out.html == "<p>&lt;script&gt;x&lt;/script&gt;</p>"  # the HTML part only is escaped


@pytest.mark.parametrize("source", ["{{ unknown }}", "{{ voucher_code }}", "{% if nope %}x{% endif %}"])
def test_an_unknown_placeholder_is_refused_when_written(source):
    with pytest.raises(TemplateRefused) as refused:
        check(WELCOME, template(text=source))
    assert refused.value.problems[0]["field"] == "text" and "unknown placeholder" in refused.value.problems[0]["message"]


@pytest.mark.parametrize("source", [
    "{{ member.__class__ }}", "{{ member.__class__.__mro__[1].__subclasses__() }}", "{{ member['__class__'] }}",
    "{{ points.__class__.__base__ }}", "{{ member._private }}",
    "{% for i in range(100000000) %}{% for j in range(100000000) %}x{% endfor %}{% endfor %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{{ member.name.format(member) }}",
    "{% set x = 1 %}", "{% include 'other' %}", "{% extends 'base' %}", "{{ cycler }}", "{{ lipsum() }}",
    "{% if %}",
])
def test_sandbox_escapes_loops_and_other_constructs_are_refused_when_written(source):
    with pytest.raises(TemplateRefused):
        check(WELCOME, template(html=source))


def test_the_sandbox_holds_at_render_time_too():
    """A template that somehow skipped the check still reaches nothing: the sandbox and strict undefined refuse."""
    with pytest.raises(SecurityError):
        render(WELCOME, template(text="{{ member.name.__class__.__mro__ }}"), SAMPLE)
    with pytest.raises(UndefinedError):
        render(WELCOME, template(text="{{ voucher_code }}"), SAMPLE)  # not a value of this kind: not given


def test_values_a_kind_does_not_provide_are_not_passed():
    out = render(WELCOME, template(text="{{ points }}"), {**SAMPLE, "secret": "x"})
    assert out.text == str(SAMPLE["points"])
