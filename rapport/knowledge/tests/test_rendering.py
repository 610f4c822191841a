"""Markdown is rendered to HTML in which no script, handler or dangerous URL survives."""

from html.parser import HTMLParser

import pytest

from rapport.knowledge.rendering import ALLOWED_TAGS, plain_excerpt, render_markdown


class Elements(HTMLParser):
    """The tags and attributes an HTML fragment really holds (not its escaped text)."""

    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src=https://evil.example></iframe>",
        "<svg onload=alert(1)>",
        '<div style="background:url(javascript:alert(1))">x</div>',
        "[x](vbscript:msgbox(1))",
        '[x](https://ok.example "title" onclick="alert(1)")',
    ],
)
def test_no_script_survives(attack):
    html = render_markdown(attack)
    parser = Elements()
    parser.feed(html)
    assert parser.tags <= ALLOWED_TAGS, html
    for _tag, name, value in parser.attributes:
        assert not name.startswith("on") and name != "style", html
        if name in ("href", "src"):
            assert value.split(":", 1)[0].lower() in ("http", "https", "mailto"), html


def test_markdown_formatting_and_safe_links():
    html = render_markdown(
        "# Title\n\n**bold** *it* `code`\n\n- one\n- two\n\n[docs](https://docs.example)\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html and "<em>it</em>" in html and "<code>code</code>" in html
    assert "<li>one</li>" in html and "<table>" in html and "<td>1</td>" in html
    assert '<a href="https://docs.example" rel="noopener noreferrer">docs</a>' in html


def test_excerpt_is_plain_text():
    assert plain_excerpt("# Hi & **bold** <b>x</b>") == "Hi & bold <b>x</b>"
    assert plain_excerpt("word " * 100, 20).endswith("…")
