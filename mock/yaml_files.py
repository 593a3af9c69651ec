"""YAML parsing for the spec, the scenarios and the world: libyaml when PyYAML was built with it,
else PyYAML's pure-Python parser (the same documents either way).

A large file (a contract of the whole API) takes longer to parse than the rest of start-up: its parsed
document is kept in a cache folder under the hash of its bytes, the way Python keeps compiled modules,
so the next start with the same file reads it back instead. A cache that cannot be read or written is
passed over.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

YAMLError = yaml.YAMLError
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CACHE_ENVIRONMENT_VARIABLE = "CLOUD_BACKUP_MOCK_CACHE"  # the cache folder; "off": no cache
CACHED_FROM_BYTES = 128 * 1024  # smaller files parse faster than a cache is read
CACHED_FILES = 16  # the cache keeps the most recently written


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, through libyaml where there is one."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader


def load_yaml_file(path: Path) -> Any:
    """A YAML file's document, read back from the cache when the same bytes were parsed before."""
    data = path.read_bytes()
    folder = cache_folder() if len(data) >= CACHED_FROM_BYTES else None
    if folder is None:
        return load_yaml(data.decode("utf-8"))
    key = hashlib.sha256(sys.version.encode() + yaml.__version__.encode() + b"\0" + data).hexdigest()
    cached = folder / f"{key}.marshal"
    try:
        return marshal.loads(cached.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        pass
    document = load_yaml(data.decode("utf-8"))
    try:
        blob = marshal.dumps(document)
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as out:
            out.write(blob)
        os.replace(out.name, cached)
        for old in sorted(folder.glob("*.marshal"), key=lambda f: f.stat().st_mtime)[:-CACHED_FILES]:
            old.unlink(missing_ok=True)
    except (OSError, ValueError):  # a value marshal cannot carry (a YAML date), or no room: no cache
        pass
    return document


def cache_folder() -> Path | None:
    """``$CLOUD_BACKUP_MOCK_CACHE``, else ``$XDG_CACHE_HOME/cloud-backup-mock`` (``~/.cache/...``)."""
    chosen = os.environ.get(CACHE_ENVIRONMENT_VARIABLE)
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cloud-backup-mock"


def line_finder(text: str) -> Callable[[Sequence[Any]], int | None]:
    """Where in ``text`` a place of its document is: ``["rules", 2, "operation"]`` -> its 1-based line.

    A place that is not in the text (a property that is missing) gives the line of the deepest part
    that is; text that is not YAML gives None for every place. Meant for messages about a file, so
    the text is composed again only when one is asked for."""
    root: list[Any] = []

    def find(place: Sequence[Any]) -> int | None:
        if not root:
            try:
                root.append(yaml.compose(text, Loader=_LOADER))
            except yaml.YAMLError:
                root.append(None)
        node = root[0]
        if node is None:
            return None
        for part in place:
            inner = None
            if isinstance(node, yaml.MappingNode):
                inner = next((value for key, value in node.value if key.value == str(part)), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                inner = node.value[part]
            if inner is None:
                break
            node = inner
        return node.start_mark.line + 1

    return find
