"""What the case page builds once per process gives what the template tags wrote on every
request: `{% fixed_url %}` is `{% url %}` (with the script prefix of the request), and
`pair_options`' kept markup marks the selected option as the template loop did, whatever
was selected on an earlier call with the same list."""

import pytest
from django.template import Context, Template
from django.urls import set_script_prefix

from rapport.cases.templatetags import cases_ui
from rapport.cases.views import AgentChoice

URLS = [
    ("cases:workspace", ()),
    ("cases:detail", (7,)),
    ("cases:controls", (123456789,)),
    ("accounts:account_detail", (42,)),
    ("fieldservice:workorder_detail", (9,)),
    ("returns:new", ()),
    ("cases:attachment", (31, 5)),
    ("cases:split", (31, 2**40)),
]


def _render(source: str, **context) -> str:
    return Template("{% load cases_ui rapport_ui %}" + source).render(Context(context))


@pytest.mark.parametrize("prefix", ["/", "/desk/"])
def test_fixed_url_is_the_url_tag(prefix):
    set_script_prefix(prefix)
    try:
        for name, keys in URLS:
            args = " ".join(f"k{i}" for i in range(len(keys)))
            context = {f"k{i}": key for i, key in enumerate(keys)}
            expected = _render(f"{{% url '{name}' {args} %}}", **context)
            assert expected.startswith(prefix)
            assert _render(f"{{% fixed_url '{name}' {args} %}}", **context) == expected
            # the same URL with other keys, from the kept parts
            other = {k: v + 1 for k, v in context.items()}
            assert _render(f"{{% fixed_url '{name}' {args} %}}", **other) == _render(
                f"{{% url '{name}' {args} %}}", **other
            )
        head, tail = cases_ui._around_key("cases:split", 31)
        assert f"{head}77{tail}" == _render("{% url 'cases:split' 31 77 %}")
    finally:
        set_script_prefix("/")


LOOP = (
    '{% for v, l in pairs %}<option value="{{ v }}"{% if v == selected %} selected{% endif %}>'
    "{{ l }}</option>{% endfor %}"
)


@pytest.mark.parametrize(
    "pairs",
    [
        [AgentChoice(3, "Ann <A>"), AgentChoice(1, "Bob & co"), AgentChoice(2, '"Q"')],
        (("new", "New"), ("open", "Open"), ("open", "Open again"), ("x<y", "")),
        [("refund", ""), ("", "")],
        [],
    ],
)
def test_pair_options_mark_what_the_loop_marked_on_every_call(pairs):
    values = [v for v, _ in pairs]
    for selected in [*values, None, 99, "nothing", [1], *reversed(values)]:
        built = _render("{% pair_options pairs selected %}", pairs=pairs, selected=selected)
        assert built == _render(LOOP, pairs=pairs, selected=selected), selected
        assert built.count(" selected") == sum(1 for v in values if v == selected)
    assert cases_ui._options(pairs) is not None  # plain pairs: kept


def test_pair_options_of_other_pairs_are_written_each_time():
    from django.utils.safestring import mark_safe

    for pairs in (
        [(True, "yes"), (1, "one")],  # bool is not int here: never kept beside 1
        [(1.5, "x")],
        [(1, mark_safe("<b>safe</b>"))],
    ):
        assert cases_ui._options(pairs) is None
        for selected in (1, True, 1.5, None):
            assert _render("{% pair_options pairs selected %}", pairs=pairs, selected=selected) == (
                _render(LOOP, pairs=pairs, selected=selected)
            )
