"""The cache of large parsed YAML files (a contract of the whole API): read back by the hash of the
file's bytes, never trusted over the file, bounded, and passed over when it cannot be used."""

import datetime

import pytest

from cloud_backup_mock import yaml_files
from cloud_backup_mock.contract import Contract
from cloud_backup_mock.yaml_files import CACHED_FILES, CACHED_FROM_BYTES, load_yaml_file


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("CLOUD_BACKUP_MOCK_CACHE", str(folder))
    return folder


def large_yaml(tmp_path, name="big.yaml", marker="first"):
    path = tmp_path / name
    lines = [f"marker: {marker}", "items:"] + [f"  - {{id: {n}, name: item-{n}, tags: [a, b]}}" for n in range(6000)]
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size >= CACHED_FROM_BYTES
    return path


def test_a_large_file_is_parsed_once_and_read_back_by_its_bytes(tmp_path, cache, monkeypatch):
    path = large_yaml(tmp_path)
    first = load_yaml_file(path)
    assert len(list(cache.glob("*.marshal"))) == 1

    def no_parsing(text):
        raise AssertionError("parsed again")

    monkeypatch.setattr(yaml_files, "load_yaml", no_parsing)
    assert load_yaml_file(path) == first and first["items"][5999] == {"id": 5999, "name": "item-5999", "tags": ["a", "b"]}
    monkeypatch.undo()
    monkeypatch.setenv("CLOUD_BACKUP_MOCK_CACHE", str(cache))
    path.write_text(path.read_text().replace("marker: first", "marker: second"))
    assert load_yaml_file(path)["marker"] == "second"  # other bytes: parsed, never the old document


def test_a_broken_or_unusable_cache_is_passed_over(tmp_path, cache):
    path = large_yaml(tmp_path)
    document = load_yaml_file(path)
    for entry in cache.glob("*.marshal"):
        entry.write_bytes(b"\x00not marshal")
    assert load_yaml_file(path) == document


def test_a_cache_folder_that_cannot_be_made_is_passed_over(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("CLOUD_BACKUP_MOCK_CACHE", str(blocked / "cache"))
    assert load_yaml_file(large_yaml(tmp_path, marker="other"))["marker"] == "other"


def test_small_files_dates_and_off_are_not_cached(tmp_path, cache, monkeypatch):
    small = tmp_path / "small.yaml"
    small.write_text("a: 1\n")
    assert load_yaml_file(small) == {"a": 1}
    dated = large_yaml(tmp_path, "dated.yaml", marker="2026-11-24")  # a YAML date: marshal cannot carry it
    assert load_yaml_file(dated)["marker"] == datetime.date(2026, 11, 24)
    assert not list(cache.glob("*.marshal"))
    monkeypatch.setenv("CLOUD_BACKUP_MOCK_CACHE", "off")
    assert load_yaml_file(large_yaml(tmp_path, "off.yaml"))["marker"] == "first"
    assert not cache.exists() or not list(cache.glob("*.marshal"))


def test_the_cache_keeps_the_most_recent_files_only(tmp_path, cache):
    for n in range(CACHED_FILES + 4):
        load_yaml_file(large_yaml(tmp_path, f"f{n}.yaml", marker=f"m{n}"))
    assert len(list(cache.glob("*.marshal"))) == CACHED_FILES
    assert not list(cache.glob("*.tmp"))


def test_a_large_contract_loads_the_same_from_the_cache(tmp_path, cache):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from large_contract import large_contract, operation_count
    import yaml

    path = tmp_path / "large.yaml"
    document = large_contract()
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    parsed, cached = Contract.load(path), Contract.load(path)
    assert len(list(cache.glob("*.marshal"))) == 1
    assert len(parsed.operations) == len(cached.operations) == operation_count(document) > len(Contract.load().operations)
    assert parsed.document == cached.document
