"""A client team's first test, run by .ci/check-wheel against the installed wheel under -W error."""

import sys

import httpx

from cloud_backup_mock.testing import DOCS_AGENT, DOCS_PROJECT, DOCS_TOKEN


def test_plugin_loaded_without_the_server():
    # This module was imported after the plugin; the fixture below has not been used yet.
    assert "cloud_backup_mock.testing.plugin" in sys.modules


def test_the_docs_agent_through_the_fixture(cloud_backup_mock):
    answer = httpx.get(f"{cloud_backup_mock.url}/v2/{DOCS_PROJECT}/agents/{DOCS_AGENT}",
                       headers={"X-Auth-Token": DOCS_TOKEN})
    assert answer.status_code == 200 and answer.json()["id"] == DOCS_AGENT
    assert [c["status"] for c in cloud_backup_mock.calls("getAgent")] == [200]


def test_a_scenario_per_test(cloud_backup_mock):
    cloud_backup_mock.use("server-error")
    answer = httpx.get(f"{cloud_backup_mock.url}/v2/{DOCS_PROJECT}/agents/{DOCS_AGENT}",
                       headers={"X-Auth-Token": DOCS_TOKEN})
    assert answer.status_code == 500
