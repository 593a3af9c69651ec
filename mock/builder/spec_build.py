"""Build ``spec/openapi.yaml`` from the reference pages in ``spec/pages`` and ``spec/overlay.yaml``."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from .docs_page import parse_page
from .overlay import apply_overlay
from .page_to_openapi import page_to_path_item
from ..yaml_files import YAMLError, load_yaml

PAGES_DIR = "pages"
OVERLAY_FILE = "overlay.yaml"
OUTPUT_FILE = "openapi.yaml"
HEADER = "# Built by `cloud-backup-mock spec build` from spec/pages/*.rst and spec/overlay.yaml. Do not edit.\n"


def pages_document(spec_dir: Path) -> dict[str, Any]:
    """The document the pages alone yield, before the overlay."""
    paths: dict[str, Any] = {}
    pages = sorted((spec_dir / PAGES_DIR).glob("*.rst"))
    if not pages:
        raise ValueError(f"{spec_dir / PAGES_DIR}: no reference pages (*.rst) there; --spec-dir takes a folder "
                         f"with pages/, {OVERLAY_FILE} and {OUTPUT_FILE}")
    for page_file in pages:
        for path, item in page_to_path_item(parse_page(page_file)).items():
            for method in item:
                if method in paths.get(path, {}):
                    raise ValueError(f"{page_file}: {method.upper()} {path} is documented twice")
            paths.setdefault(path, {}).update(item)
    return {"openapi": "3.0.3", "info": {"title": "", "version": ""}, "paths": paths}


def build(spec_dir: Path) -> dict[str, Any]:
    if not spec_dir.is_dir():
        raise ValueError(f"{spec_dir}: no such folder; --spec-dir takes a folder with {PAGES_DIR}/, {OVERLAY_FILE} "
                         f"and {OUTPUT_FILE}")
    source = spec_dir / OVERLAY_FILE
    try:
        overlay = load_yaml(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{source}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    except YAMLError as exc:
        raise ValueError(f"{source}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(overlay, dict):
        raise ValueError(f"{source}: not an Overlay document (a mapping with 'overlay' and 'actions')")
    return apply_overlay(pages_document(spec_dir), overlay, str(spec_dir / OVERLAY_FILE))


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # examples repeated across operations stay readable
        return True


def render(document: dict[str, Any]) -> str:
    return HEADER + yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def write(spec_dir: Path) -> Path:
    out = spec_dir / OUTPUT_FILE
    out.write_text(render(build(spec_dir)), encoding="utf-8")
    return out


def drift(spec_dir: Path) -> str:
    """A unified diff between the committed ``openapi.yaml`` and a fresh build ('' when equal)."""
    out = spec_dir / OUTPUT_FILE
    committed = out.read_text(encoding="utf-8") if out.exists() else ""
    fresh = render(build(spec_dir))
    return "".join(difflib.unified_diff(
        committed.splitlines(keepends=True), fresh.splitlines(keepends=True),
        fromfile=f"{out} (committed)", tofile=f"{out} (built from spec/pages and spec/overlay.yaml)",
    ))
