import os
import subprocess
from pathlib import Path

import httpx
import pytest

from cloud_backup_mock.testing import DOCS_TOKEN

REPO = Path(__file__).resolve().parent.parent
REFERENCE_PAGES = Path("shared") / "reference" / "cloud-backup-v2"


def reference_candidates() -> list[Path]:
    """Where the public reference pages (not part of the project) may be: $CLOUD_BACKUP_REFERENCE_DIR, beside
    this checkout, or beside the checkout it was cloned from (a clean clone for CI is often made elsewhere)."""
    if os.environ.get("CLOUD_BACKUP_REFERENCE_DIR"):
        return [Path(os.environ["CLOUD_BACKUP_REFERENCE_DIR"])]
    found = [REPO.parent / REFERENCE_PAGES]
    try:
        origin = subprocess.run(["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        origin = ""
    if origin and Path(origin).is_dir():
        found.append(Path(origin).resolve().parent / REFERENCE_PAGES)
    return found


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    candidates = reference_candidates()
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    where = ", ".join(map(str, candidates))
    if os.environ.get("CI"):
        pytest.fail(f"reference pages not found at {where} (set CLOUD_BACKUP_REFERENCE_DIR)")
    pytest.skip(f"reference pages not found at {where}; set CLOUD_BACKUP_REFERENCE_DIR to run these")


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
