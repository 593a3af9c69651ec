"""The commands run inside a checkout use that checkout's contract and scenarios, whichever copy of the
package is installed, and say whose files they used. A copy of the checkout stands in for a clone with
the wheel installed: the installed package's own files (this checkout's, in an editable install) are
not the copy's, so a command that took the package's files would check the wrong ones."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cloud_backup_mock.shipped import SCENARIOS_DIR, SPEC_FILE, project_files

from serve_banner import serve_banner

REPO = Path(__file__).resolve().parent.parent


def command(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cloud_backup_mock", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


@pytest.fixture
def clone(tmp_path):
    """A copy of the checkout's project file, contract folder and scenarios, elsewhere."""
    copy = tmp_path / "clone"
    copy.mkdir()
    shutil.copy(REPO / "pyproject.toml", copy)
    shutil.copytree(REPO / "spec", copy / "spec")
    shutil.copytree(REPO / "scenarios", copy / "scenarios")
    return copy


def test_lint_in_a_clone_checks_the_clones_scenarios_against_its_contract(clone):
    from test_scenario_files import BROKEN, broken_problems

    broken = clone / "scenarios" / "broken.yaml"
    broken.write_text(BROKEN)
    result = command("lint", cwd=clone / "scenarios")  # from a folder inside the checkout, too
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        *broken_problems(broken),
        f"6 problem(s) in {clone}/scenarios against {clone}/spec/openapi.yaml (the checkout at {clone}, found from "
        "the current directory; DIR and --spec choose others)"]


def test_spec_check_in_a_clone_checks_the_clones_contract(clone, api_reference_dir):
    with (clone / "spec" / "openapi.yaml").open("a") as spec:
        spec.write("# edited by hand\n")
    result = command("spec", "check", "--reference-dir", str(api_reference_dir), cwd=clone)
    assert result.returncode == 1
    assert f"--- {clone}/spec/openapi.yaml (committed)" in result.stdout and "-# edited by hand" in result.stdout
    assert result.stderr.strip().endswith(
        f"{clone}/spec/openapi.yaml is out of date: run `cloud-backup-mock spec build` (the checkout at {clone}, "
        "found from the current directory; --spec-dir chooses another).")


def test_serve_in_a_clone_names_the_clones_files_in_its_banner(clone):
    banner = serve_banner(clone)
    assert f"(13 scenarios from {clone}/scenarios; contract {clone}/spec/openapi.yaml; " in banner


def test_a_project_of_another_name_or_no_project_uses_the_shipped_files(clone, tmp_path):
    other = clone / "examples" / "client"
    other.mkdir(parents=True)
    (other / "pyproject.toml").write_text('[project]\nname = "backup-client"\n')
    assert project_files(other).checkout is None and project_files(other).scenarios_dir == SCENARIOS_DIR
    assert project_files(tmp_path).checkout is None
    assert project_files(clone / "spec" / "pages").checkout == clone
    result = command("lint", cwd=other)
    assert result.returncode == 0
    assert result.stdout == (f"13 scenarios in {SCENARIOS_DIR} keep to {SPEC_FILE} "
                             "(the copy shipped with the package; DIR and --spec choose others).\n")
