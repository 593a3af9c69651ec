import os
from pathlib import Path

import httpx
import pytest

from cloud_backup_mock.testing import DOCS_TOKEN

REPO = Path(__file__).resolve().parent.parent
REFERENCE_DIR = Path(os.environ.get("CLOUD_BACKUP_REFERENCE_DIR", REPO.parent / "shared" / "reference" / "cloud-backup-v2"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The public reference pages (not part of the project). CI has them beside the clone."""
    if not REFERENCE_DIR.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"reference pages not found at {REFERENCE_DIR} (set CLOUD_BACKUP_REFERENCE_DIR)")
        pytest.skip(f"reference pages not found at {REFERENCE_DIR}; set CLOUD_BACKUP_REFERENCE_DIR to run these")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def cloud_backup_mock_config(cloud_backup_mock_config):
    # The plugin's session server, with reports made by the tests themselves unless a test turns auto-reporting on.
    cloud_backup_mock_config.settings["auto_report_after_seconds"] = None
    return cloud_backup_mock_config


@pytest.fixture
def mock(cloud_backup_mock):
    return cloud_backup_mock


@pytest.fixture
def client(mock):
    with httpx.Client(base_url=mock.url, headers={"X-Auth-Token": DOCS_TOKEN}, timeout=10) as c:
        yield c
