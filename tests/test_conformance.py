"""schemathesis over every operation of the contract, against the mock on a real port: every check,
positive and negative data, for the default world and each shipped scenario; and stateful runs that
follow the spec's links (register -> read, 202 Location -> result and report)."""

import pytest
import schemathesis
from hypothesis import settings

from cloud_backup_mock.shipped import SPEC_FILE
from cloud_backup_mock.testing import DOCS_TOKEN

DEFAULT_EXAMPLES = 50
SCENARIO_EXAMPLES = 15


def load(max_examples: int):
    return schemathesis.openapi.from_path(SPEC_FILE, config=schemathesis.Config.from_dict({
        # The token goes through the spec's security scheme, so that the ignored_auth check knows it is real.
        "auth": {"openapi": {"AuthToken": {"api_key": DOCS_TOKEN}}},
        "generation": {"max-examples": max_examples, "mode": "all", "database": "none"},
    }))


default_schema = load(DEFAULT_EXAMPLES)
scenario_schema = load(SCENARIO_EXAMPLES)

# Scenarios whose purpose is to break a check, and the check each one breaks on purpose.
SCENARIOS = {
    "fingerprint-conflict": (), "encryption-disabled": (), "credentials-rejected": (),
    "verification-pending": (), "password-invalid": (), "slow;seconds=0.005": (),
    # Every answer is a 500 by design; valid data is then not "accepted" either.
    "server-error": ("not_a_server_error", "positive_data_acceptance"),
    # 503s (with Retry-After) for the first requests of each project, by design.
    "upstream-unavailable": ("not_a_server_error", "positive_data_acceptance"),
}


@default_schema.parametrize()
def test_default_world(case, cloud_backup_mock_server):
    case.call_and_validate(base_url=cloud_backup_mock_server.url)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@scenario_schema.parametrize()
def test_shipped_scenario(case, scenario, cloud_backup_mock_server):
    from schemathesis.checks import CHECKS

    excluded = [CHECKS.get_by_names([name])[0] for name in SCENARIOS[scenario]]
    case.call_and_validate(base_url=cloud_backup_mock_server.url, headers={"X-Mock-Scenario": scenario},
                           excluded_checks=excluded)


@pytest.fixture
def stateful_url(cloud_backup_mock_server):
    return cloud_backup_mock_server.url


def test_stateful_links(stateful_url):
    machine = default_schema.as_state_machine()
    followed = {name.split("___")[1].split("__")[0] for name in dir(machine) if "___" in name}
    # The spec's own links are among the transitions (schemathesis infers more from field names).
    assert {"201_GetAgent", "201_RequestVaultEncryption", "202_GetResult", "202_Report", "201_Get"} <= followed

    class Workflow(machine):
        def get_call_kwargs(self, case):
            return {"base_url": stateful_url}

    Workflow.TestCase.settings = settings(max_examples=25, stateful_step_count=6, deadline=None, database=None)
    Workflow.TestCase().runTest()
