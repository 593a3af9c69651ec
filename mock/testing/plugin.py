"""pytest fixtures for client test suites: installed with the package, no conftest needed.

- ``cloud_backup_mock_server`` (session): one real mock server for the test session;
- ``cloud_backup_mock`` (function): the same server, reset (state, scenarios, journal) around each test;
  a test whose body passes fails when a ``respond()`` stub it made (not ``optional=True``) never
  answered; when such a test fails, its report has a "cloud-backup-mock exchanges" section: the test's
  latest 20 requests and what the mock answered.

Options: ``--cloud-backup-mock-port``, ``--cloud-backup-mock-scenarios DIR``,
``--cloud-backup-mock-scenario-file FILE`` (repeatable).

pytest loads this module in every session of a project that has the package installed: it imports
only the configuration dataclass; the server (Connexion, Starlette, uvicorn) loads when a test first
asks for a fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..config import MockConfig
from ..shipped import SCENARIOS_DIR


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cloud-backup-mock", "Cloud Backup API mock")
    group.addoption("--cloud-backup-mock-port", type=int, default=0,
                    help="port of the mock server (default: a free one)")
    group.addoption("--cloud-backup-mock-scenarios", default=str(SCENARIOS_DIR),
                    help="folder of scenario files and world.yaml (default: the shipped ones)")
    group.addoption("--cloud-backup-mock-scenario-file", action="append", default=[],
                    help="an extra scenario file (repeatable)")


@pytest.fixture(scope="session")
def cloud_backup_mock_config(request: pytest.FixtureRequest) -> MockConfig:
    """Override this fixture to configure the session's mock (e.g. world settings)."""
    option = request.config.getoption
    return MockConfig(scenarios_dir=Path(option("--cloud-backup-mock-scenarios")),
                      scenario_files=[Path(f) for f in option("--cloud-backup-mock-scenario-file")])


@pytest.fixture(scope="session")
def cloud_backup_mock_server(request: pytest.FixtureRequest, cloud_backup_mock_config: MockConfig):
    from .mock_server import MockServer

    with MockServer(cloud_backup_mock_config, port=request.config.getoption("--cloud-backup-mock-port")) as server:
        yield server


@pytest.fixture
def cloud_backup_mock(cloud_backup_mock_server):
    cloud_backup_mock_server.reset()
    yield cloud_backup_mock_server
    cloud_backup_mock_server.reset()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield
    mock = getattr(item, "funcargs", {}).get("cloud_backup_mock")
    if mock is not None:
        try:
            mock.assert_all_called()
        except AssertionError as exc:  # the test's own failure: no traceback through this plugin
            pytest.fail(str(exc), pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call" and report.failed:
        mock = getattr(item, "funcargs", {}).get("cloud_backup_mock")
        if mock is not None:
            report.sections.append(("cloud-backup-mock exchanges", mock.exchanges()))
    return report
