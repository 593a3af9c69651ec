"""Where the files the package ships live: the built contract, the default scenarios and world.

They are the repository's own ``spec/`` and ``scenarios/`` folders, mapped into the package by the
build (``pyproject.toml``): in a checkout (editable install) these paths are those folders, in an
installed wheel the copies inside ``site-packages/cloud_backup_mock``. The commands run inside a
checkout use that checkout's folders instead (:func:`project_files`), whichever copy is installed.
"""

import tomllib
from dataclasses import dataclass
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
PROJECT_NAME = "cloud-backup-mock"  # the name a checkout's pyproject.toml gives the project


@dataclass(frozen=True)
class ProjectFiles:
    """The contract folder and the scenario folder a command uses when it is given none."""

    spec_dir: Path
    scenarios_dir: Path
    checkout: Path | None  # the checkout they are in; None: the package's own copies

    @property
    def spec_file(self) -> Path:
        return self.spec_dir / "openapi.yaml"

    @property
    def origin(self) -> str:
        if self.checkout is None:
            return "the copy shipped with the package"
        return f"the checkout at {self.checkout}, found from the current directory"


def project_files(start: Path | None = None) -> ProjectFiles:
    """The files of the checkout of this project that ``start`` (the current directory) is in, else the
    package's own. The checkout is the nearest folder at or above ``start`` with a ``pyproject.toml``,
    when that file names this project and the folder has ``spec/`` and ``scenarios/``: a nearer
    project of another name means ``start`` is not in a checkout of this one."""
    shipped = ProjectFiles(SPEC_DIR, SCENARIOS_DIR, None)
    try:
        folder = (start or Path.cwd()).resolve()
    except OSError:  # the current directory was removed
        return shipped
    for candidate in (folder, *folder.parents):
        pyproject = candidate / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            name = (tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project") or {}).get("name")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            name = None
        if name == PROJECT_NAME and (candidate / "spec").is_dir() and (candidate / "scenarios").is_dir():
            return ProjectFiles(candidate / "spec", candidate / "scenarios", candidate)
        return shipped
    return shipped
