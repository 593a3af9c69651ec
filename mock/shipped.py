"""Where the files the package ships live: the built contract, the default scenarios and world.

They are the repository's own ``spec/`` and ``scenarios/`` folders, mapped into the package by the
build (``pyproject.toml``): in a checkout (editable install) these paths are those folders, in an
installed wheel the copies inside ``site-packages/cloud_backup_mock``.
"""

from importlib import resources
from pathlib import Path

SPEC_DIR = Path(str(resources.files(f"{__package__}.spec")))
SPEC_FILE = SPEC_DIR / "openapi.yaml"
SCENARIOS_DIR = Path(str(resources.files(f"{__package__}.scenarios")))
WORLD_FILE_NAME = "world.yaml"
RESOURCES_FILE_NAME = "resources.yaml"  # the resource model (kinds, lifecycles), beside world.yaml
NOT_SCENARIOS = (WORLD_FILE_NAME, RESOURCES_FILE_NAME)  # the scenario folder's files that are not scenario files


def package_file(*parts: str) -> Path:
    """A data file inside the package's code (schemas, the admin API's document)."""
    return Path(str(resources.files(__package__).joinpath(*parts)))
