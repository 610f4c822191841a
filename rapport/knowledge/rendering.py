"""Article bodies: Markdown to HTML that is safe to show.

markdown-it-py with raw HTML off (a `<script>` in the text stays text), then nh3 with an
allow-list as the second wall: only formatting tags, links and images over http(s)/mailto,
every link `rel="noopener noreferrer"`, no style attributes (the CSP forbids them; table
alignment is dropped). The output is what templates mark safe.
"""

import html

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_MARKDOWN.enable(["table", "strikethrough"])

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
    "code", "pre", "blockquote", "ul", "ol", "li", "a", "img",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def render_markdown(text: str) -> str:
    """Sanitised HTML of the Markdown `text`."""
    html = _MARKDOWN.render(text or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def plain_excerpt(text: str, length: int = 180) -> str:
    """The first words of the rendered text, without markup (lists, suggestions)."""
    plain = html.unescape(nh3.clean(_MARKDOWN.render(text or ""), tags=set()))
    plain = " ".join(plain.split())
    if len(plain) <= length:
        return plain
    return plain[: length - 1].rsplit(" ", 1)[0].rstrip(".,;:!?") + "…"
