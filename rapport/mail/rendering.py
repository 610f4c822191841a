"""The one template language for user-editable templates (emails, and later macros, campaign
mails, quotes, surveys): Jinja2's immutable sandbox.

A template only sees the plain data its context builder gives it (dicts, lists, strings,
numbers, dates); it can never reach Python objects, call methods that change state, import or
read attributes starting with an underscore. Merge fields look like `{{ contact.first_name }}`,
conditions like `{% if account.industry == "Retail" %}…{% endif %}`, defaults like
`{{ contact.first_name | default("there") }}`.
"""

from functools import lru_cache

import nh3
from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markdown_it import MarkdownIt

# How a composed body is written: plain text, or Markdown turned into (sanitised) HTML.
BODY_FORMATS = [("text", "Plain text"), ("markdown", "Formatted (Markdown)")]


class TemplateProblem(ValueError):
    """A template that cannot be parsed or rendered; the message says where and why."""


@lru_cache(maxsize=2)
def _environment(*, html: bool, strict: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        autoescape=html,
        undefined=StrictUndefined if strict else Undefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def check_template(source: str, *, html: bool = False) -> None:
    """Raise TemplateProblem if `source` does not parse."""
    try:
        _environment(html=html, strict=False).parse(source or "")
    except TemplateError as exc:
        raise TemplateProblem(_describe(exc)) from exc


def render_template(source: str, context: dict, *, html: bool = False, strict: bool = False) -> str:
    """Render `source` with `context` (plain data only). `strict` makes a missing merge field
    an error (the preview uses it to point at typos); sending renders it as empty."""
    try:
        template = _environment(html=html, strict=strict).from_string(source or "")
        return template.render(context)
    except TemplateError as exc:
        raise TemplateProblem(_describe(exc)) from exc


def _template_line(exc: BaseException) -> int | None:
    """The template line a render-time error (an undefined merge field) happened on: Jinja
    puts the template's own frames, named "<template>", into the traceback."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _describe(exc: TemplateError) -> str:
    line = getattr(exc, "lineno", None) or _template_line(exc)
    message = getattr(exc, "message", None) or str(exc)
    return f"line {line}: {message}" if line else message


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # CommonMark without raw HTML (a "<script>" typed in the body stays text), links autolinked.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})


def markdown_to_html(text: str) -> str:
    """The HTML part of a formatted message: Markdown rendered after the merge fields were
    filled in, then sanitised with nh3 like every HTML we store or send."""
    return nh3.clean(_markdown().render(text or ""), link_rel="noopener noreferrer")
