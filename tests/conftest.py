import os
from pathlib import Path

import pytest

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
