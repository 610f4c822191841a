"""The layout's links without arguments are reversed (and its assets resolved) once per process
(`fixed_url`, `fixed_static`): the same text as `{% url %}` / `{% static %}`, and another one
under another script prefix."""

from django.template import Context, Template
from django.templatetags.static import static
from django.urls import clear_script_prefix, reverse, set_script_prefix


def _render(text: str) -> str:
    return Template("{% load rapport_ui %}" + text).render(Context({}))


def test_fixed_links_equal_the_tags_they_replace_under_each_script_prefix():
    names = ["web:search", "web:logout", "notifications:bell", "mail:templates"]
    try:
        for prefix in ("/", "/crm/", "/"):
            set_script_prefix(prefix)
            for name in names:
                assert _render(f"{{% fixed_url '{name}' %}}") == reverse(name)
                assert reverse(name).startswith(prefix)
    finally:
        clear_script_prefix()
    for path in ("web/rapport.css", "vendor/htmx.min.js", "web/favicon.ico"):
        assert _render(f"{{% fixed_static '{path}' %}}") == static(path)
