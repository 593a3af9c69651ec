"""Scenario selections as the header, the admin API and ``use()`` write them (``engine/selection.py``)."""

import pytest

from cloud_backup_mock.config import MockConfig
from cloud_backup_mock.engine import RequestError, build_engine
from cloud_backup_mock.engine.selection import format_selection, parse_selection

SCENARIOS = build_engine(MockConfig()).scenarios


def test_names_and_parameters_are_read_and_written_back():
    selected = parse_selection(" slow;seconds=0.5 , default ,", SCENARIOS)
    assert selected == [("slow", {"seconds": 0.5}), ("default", {})]
    assert [format_selection(s) for s in selected] == ["slow;seconds=0.5", "default"]


@pytest.mark.parametrize(("value", "first", "kind"), [
    ("nope", "unknown scenario 'nope'", "Unknown"),
    ("slow;speed=1", "scenario 'slow' has no parameter 'speed' (parameters: seconds)", "Unknown"),
    ("slow;seconds", "scenario 'slow': parameter 'seconds' is not key=value", "Unknown"),
])
def test_every_problem_is_named_with_the_known_scenarios(value, first, kind):
    with pytest.raises(RequestError) as refused:
        parse_selection(value + ", also-unknown", SCENARIOS)
    assert refused.value.errors[0] == first and refused.value.errors[1] == "unknown scenario 'also-unknown'"
    assert refused.value.message.startswith(f"{kind} scenario selection: {first}.")
    assert refused.value.errors[-1].startswith("known scenarios: ") and "default" in refused.value.errors[-1]


def test_a_value_that_does_not_fit_its_parameter_is_invalid():
    with pytest.raises(RequestError, match="^Invalid scenario selection: scenario 'slow'"):
        parse_selection("slow;seconds=soon", SCENARIOS)
