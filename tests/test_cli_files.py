"""Every file, folder or contract a command is given that it cannot use: one line naming it and the
problem, exit 2, no traceback (run as a user runs the command, in a subprocess)."""

import subprocess
import sys

import pytest

from cloud_backup_mock.shipped import SPEC_DIR


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cloud_backup_mock", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "broken.yaml").write_text("openapi: [\n")
    (tmp_path / "no-paths.yaml").write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n")
    (tmp_path / "list-id.yaml").write_text("openapi: 3.0.3\ninfo: {title: t, version: '1'}\n"
                                           "paths: {/x: {get: {operationId: [a], responses: {'200': {description: ok}}}}}\n")
    (tmp_path / "binary.rst").write_bytes(b"\xd0\xcf\x11\xe0 not text")
    (tmp_path / "empty").mkdir()
    return tmp_path


CASES = [
    (["serve", "--port", "0", "--spec", "{tmp}/broken.yaml"], "{tmp}/broken.yaml:2: not valid YAML"),
    (["serve", "--port", "0", "--spec", "{tmp}/no-paths.yaml"], "{tmp}/no-paths.yaml: no operations under 'paths'"),
    (["serve", "--port", "0", "--spec", "{tmp}/list-id.yaml"], "{tmp}/list-id.yaml: GET /x has no operationId"),
    (["lint", "--spec", "{tmp}/broken.yaml"], "{tmp}/broken.yaml:2: not valid YAML"),
    (["spec", "build", "--spec-dir", "{tmp}/missing"], "{tmp}/missing: no such folder"),
    (["spec", "check", "--spec-dir", "{tmp}/empty"], "{tmp}/empty/overlay.yaml: cannot read"),
    (["spec", "parse", "{tmp}/binary.rst"], "{tmp}/binary.rst: not a UTF-8 text file"),
]


@pytest.mark.parametrize("args,message", CASES, ids=[" ".join(c[0][:2]) + " " + c[1].split("/")[-1][:30] for c in CASES])
def test_one_line_naming_the_file_and_exit_2(files, args, message):
    result = run(*[a.format(tmp=files) for a in args])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message.format(tmp=files) in lines[0], result.stderr


def test_spec_build_without_pages_says_where_it_looked(tmp_path):
    (tmp_path / "overlay.yaml").write_text((SPEC_DIR / "overlay.yaml").read_text())
    result = run("spec", "build", "--spec-dir", str(tmp_path))
    assert result.returncode == 2 and result.stderr.strip() == (
        f"error: {tmp_path}/pages: no reference pages (*.rst) there; --spec-dir takes a folder with pages/, "
        "overlay.yaml and openapi.yaml")


def test_version(tmp_path):
    from cloud_backup_mock import __version__

    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"cloud-backup-mock, version {__version__}"
    assert __version__[0].isdigit()
