"""pytest fixtures for client test suites: installed with the package, no conftest needed.

- ``cloud_backup_mock_server`` (session): one real mock server for the test session;
- ``cloud_backup_mock`` (function): the same server, reset (state, scenarios, journal) around each test;
  a test whose body passes fails when a ``respond()`` handler it made failed (raised, or answered outside
  the contract), or a ``respond()`` stub it made (not ``optional=True``) never answered; when such a test
  fails, its report has a "cloud-backup-mock exchanges" section: the test's latest 20 requests and what
  the mock answered (and a "cloud-backup-mock handler errors" section when a handler failed).

Options: ``--cloud-backup-mock-port``, ``--cloud-backup-mock-scenarios DIR``,
``--cloud-backup-mock-scenario-file FILE`` (repeatable); ``--cloud-backup-mock-coverage[=FILE]`` prints,
at the end of the session, which operations and documented statuses the session's tests made the mock
answer (and writes it as JSON to FILE), ``--cloud-backup-mock-coverage-fail-under=PERCENT`` fails the
session when fewer of the documented responses were answered.

pytest loads this module in every session of a project that has the package installed: it imports
only the configuration dataclass; the server (Connexion, Starlette, uvicorn) loads when a test first
asks for a fixture.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    group.addoption("--cloud-backup-mock-coverage", nargs="?", const="", default=None, metavar="FILE",
                    help="at the end of the session, print which operations and documented statuses the tests "
                         "made the mock answer; with FILE, also write it there as JSON")
    group.addoption("--cloud-backup-mock-coverage-fail-under", type=float, default=None, metavar="PERCENT",
                    help="fail the session when the tests made the mock answer fewer than PERCENT of the "
                         "documented responses (operation and status)")


_SERVER = pytest.StashKey[Any]()  # the session's MockServer, once a test asked for it
_REPORT = pytest.StashKey[list[str]]()  # what the coverage summary says at the end


def _coverage_asked(config: pytest.Config) -> bool:
    return (config.getoption("--cloud-backup-mock-coverage") is not None
            or config.getoption("--cloud-backup-mock-coverage-fail-under") is not None)


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
        request.config.stash[_SERVER] = server  # its coverage tally outlives the server, for the summary
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
            mock.assert_no_handler_errors()
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
            failures = mock.handler_errors()
            if failures:
                report.sections.append(("cloud-backup-mock handler errors", failures))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The session's coverage: written to FILE, and below the threshold the session fails."""
    config = session.config
    if not _coverage_asked(config):
        return
    server = config.stash.get(_SERVER, None)
    lines: list[str] = []
    fail_under = config.getoption("--cloud-backup-mock-coverage-fail-under")
    if server is None:
        document, percent = None, 0.0
        lines.append("no test used the cloud_backup_mock fixture: the mock answered nothing")
    else:
        from ..contract import coverage_percent, coverage_table

        document = server.coverage()
        percent = coverage_percent(document)
        lines.append(coverage_table(document))
    target = config.getoption("--cloud-backup-mock-coverage")
    if target:
        path = Path(config.invocation_params.dir) / target
        path.write_text(json.dumps(document or {}, indent=2) + "\n", encoding="utf-8")
        lines.append(f"written to {path}")
    if fail_under is not None and percent < fail_under:
        seen, documented = ((document["responses_seen"], document["responses_documented"]) if document else (0, 0))
        lines.append(f"FAIL: the tests made the mock answer {percent:.1f}% of the documented responses ({seen} of "
                     f"{documented}), below --cloud-backup-mock-coverage-fail-under={fail_under:g}")
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    config.stash[_REPORT] = lines


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    lines = config.stash.get(_REPORT, None)
    if lines is None:
        return
    terminalreporter.section("cloud-backup-mock coverage")
    for line in lines:
        terminalreporter.write_line(line, red=line.startswith("FAIL:"))
