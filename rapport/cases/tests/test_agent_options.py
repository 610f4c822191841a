"""The owner picker's options are built once for the same agents and the selected one marked
by its key: the same text as building them every time (`pair_options`), for each selection,
and rebuilt when the agents change."""

from rapport.cases.templatetags.cases_ui import agent_options, pair_options
from rapport.cases.views import AgentChoice


def test_agent_options_equal_pair_options_for_each_selection_and_list():
    agents = [AgentChoice(3, "Ann <A&B>"), AgentChoice(12, "Bo"), AgentChoice(1, "Cy")]
    for selected in (None, 3, 12, 1, 2, 31):
        assert agent_options(agents, selected) == pair_options(
            [(a.pk, a.name) for a in agents], selected
        )
    assert 'value="12" selected>' in agent_options(agents, 12)
    assert "selected" not in agent_options(agents)
    renamed = [AgentChoice(3, "Ann"), *agents[1:]]
    assert ">Ann</option>" in agent_options(renamed, 3)
    assert agent_options(agents[:1], 12) == pair_options([(3, "Ann <A&B>")], 12)
    # Anything but an integer key is compared as pair_options compares it.
    assert agent_options(agents, "12") == pair_options([(a.pk, a.name) for a in agents], "12")
