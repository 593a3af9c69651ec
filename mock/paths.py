"""Where the project's files live: the spec and the shipped scenarios, next to the package."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = PROJECT_ROOT / "spec"
SPEC_FILE = SPEC_DIR / "openapi.yaml"
SCENARIOS_DIR = PROJECT_ROOT / "scenarios"
