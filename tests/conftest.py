import os
from pathlib import Path

import httpx
import pytest

from cloud_backup_mock.builder import spec_build
from cloud_backup_mock.testing import DOCS_TOKEN

REPO = Path(__file__).resolve().parent.parent
REFERENCE_PAGES = Path("shared") / "reference" / "cloud-backup-v2"
API_REFERENCE_PAGES = spec_build.REFERENCE_FOLDER  # the current page of every operation


def _find_reference(folder: Path, variable: str) -> Path:
    candidates = spec_build.reference_candidates(REPO / "spec", folder, variable)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    where = ", ".join(map(str, candidates))
    if os.environ.get("CI"):
        pytest.fail(f"reference pages not found at {where} (set {variable})")
    pytest.skip(f"reference pages not found at {where}; set {variable} to run these")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return _find_reference(REFERENCE_PAGES, "CLOUD_BACKUP_REFERENCE_DIR")


@pytest.fixture(scope="session")
def api_reference_dir() -> Path:
    return _find_reference(API_REFERENCE_PAGES, "CLOUD_BACKUP_API_REFERENCE_DIR")


@pytest.fixture(scope="session")
def cloud_backup_mock_config(cloud_backup_mock_config):
    # The plugin's session server, with reports made by the tests themselves unless a test turns auto-reporting on.
    cloud_backup_mock_config.settings["auto_report_after_seconds"] = None
    return cloud_backup_mock_config


# The acceptance tests (the default world, every shipped scenario) run against each way of serving:
# in the test's process, and on Redis as one process, as two workers, and as two replicas taking turns.
ACCEPTANCE_MODULES = {"test_default_world", "test_scenarios_served", "test_resources_served", "test_guides"}
SERVING = ["in-process", "redis", "redis-workers", "redis-replicas"]


def pytest_configure(config):
    config.addinivalue_line("markers", "in_process: an acceptance test that reaches into the in-process world")


def pytest_generate_tests(metafunc):
    if (metafunc.module.__name__ in ACCEPTANCE_MODULES and "client" in metafunc.fixturenames
            and not metafunc.definition.get_closest_marker("in_process")):
        metafunc.parametrize("serving", SERVING, indirect=True)


@pytest.fixture
def serving(request) -> str:
    return getattr(request, "param", "in-process")


@pytest.fixture(scope="session")
def redis_server():
    from shared_state import RedisServer

    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster():
    """A Redis Cluster of three masters, for the shared-state tests' ``[cluster]`` cases."""
    from shared_state import RedisClusterServer

    cluster = RedisClusterServer().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def sandboxes(request):
    """Served mocks on Redis, started when first asked for, one Redis database each."""
    from shared_state import Sandbox

    started = {}

    def get(name: str):
        if name not in started:
            redis = request.getfixturevalue("redis_server")
            shape = {"redis": (1, 1, 1), "redis-workers": (2, 1, 2), "redis-replicas": (3, 2, 1)}[name]
            started[name] = Sandbox(redis.url(shape[0]), replicas=shape[1], workers=shape[2]).start()
        return started[name]

    yield get
    for sandbox in started.values():
        sandbox.stop()


@pytest.fixture
def mock(request, serving):
    if serving == "in-process":
        yield request.getfixturevalue("cloud_backup_mock")
        return
    from shared_state import RemoteMock

    remote = RemoteMock(request.getfixturevalue("sandboxes")(serving))
    remote.reset()
    yield remote
    remote.reset()
    remote.close()


@pytest.fixture
def client(mock, serving):
    if serving == "in-process":
        with httpx.Client(base_url=mock.url, headers={"X-Auth-Token": DOCS_TOKEN}, timeout=10) as c:
            yield c
        return
    with mock.sandbox.client(headers={"X-Auth-Token": DOCS_TOKEN}) as c:
        yield c
