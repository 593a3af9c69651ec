"""Build an OpenAPI document from a folder of reference pages and an optional overlay: the committed
``spec/openapi.yaml``, or a contract from any copy of the docs.

The committed contract is built from the seed pages (``spec/pages``, the pages the project started from,
whose words it may quote), the current page of every operation of the API (the reference folder, found
by :func:`find_reference`; not part of the project) and ``spec/overlay.yaml``. Of the reference pages
only facts are kept (paths, parameters, fields, types, codes, example values): their words are not
ours, so summaries and descriptions come from the overlay. A seed page documents its operation in the
reference's place.

Every page with a method and path becomes an operation. Two pages of the same method and path (two
versions of one page) make one operation: the page that documents more (response codes, parameters,
example bodies) wins, and the other is named in a warning. Two operations whose titles give the same
operationId get ``…2``, ``…3`` in page order, also with a warning. Pages without a method and path are
skipped with a warning; what a page's own parser skipped is passed on as warnings too.
"""

from __future__ import annotations

import difflib
import os
import subprocess
from http import HTTPStatus
from pathlib import Path
from typing import Any

import yaml

from ..yaml_files import YAMLError, load_yaml
from .docs_page import Page, PageError, parse_page
from . import json_patch
from .overlay import apply_overlay
from .page_to_openapi import page_to_path_item

PAGES_DIR = "pages"
OVERLAY_FILE = "overlay.yaml"
OUTPUT_FILE = "openapi.yaml"
REFERENCE_VARIABLE = "CLOUD_BACKUP_API_REFERENCE_DIR"
REFERENCE_FOLDER = Path("shared") / "reference" / "cloud-backup-v2-api"  # beside the checkout
HEADER = ("# Built by `cloud-backup-mock spec build` from spec/pages/*.rst, the API's reference pages (facts only)\n"
          "# and spec/overlay.yaml. Do not edit.\n")


def reference_candidates(spec_dir: Path, folder: Path = REFERENCE_FOLDER,
                         variable: str = REFERENCE_VARIABLE) -> list[Path]:
    """Where a folder of reference pages may be: ``$variable``, beside the checkout that holds
    ``spec_dir``, or beside the checkout it was cloned from (a clean clone is often made elsewhere)."""
    if os.environ.get(variable):
        return [Path(os.environ[variable])]
    repo = spec_dir.resolve().parent
    found = [repo.parent / folder]
    try:
        origin = subprocess.run(["git", "-C", str(repo), "config", "--get", "remote.origin.url"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        origin = ""
    if origin and Path(origin).is_dir():
        found.append(Path(origin).resolve().parent / folder)
    return found


def find_reference(spec_dir: Path) -> Path:
    """The folder of reference pages for ``spec_dir``'s contract; ValueError saying where it looked."""
    candidates = reference_candidates(spec_dir)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise ValueError(f"the API's reference pages are not at {', '.join(map(str, candidates))}; "
                     f"pass --reference-dir DIR or set ${REFERENCE_VARIABLE}")


def pages_document(pages_dir: Path, warnings: list[str] | None = None, strict: bool = True,
                   reference_dir: Path | None = None) -> dict[str, Any]:
    """The document the pages alone yield, before any overlay. ``strict`` (the committed spec): a page
    that cannot be read, or two pages of one operation, is an error; else each is a warning.
    ``reference_dir``: more pages, of which only facts are kept, for the operations ``pages_dir`` does
    not document."""
    warnings = [] if warnings is None else warnings
    files = sorted(pages_dir.glob("*.rst")) if pages_dir.is_dir() else []
    if not files:
        raise ValueError(f"{pages_dir}: no reference pages (*.rst) there")
    references = sorted(reference_dir.glob("*.rst")) if reference_dir is not None else []
    if reference_dir is not None and not references:
        raise ValueError(f"{reference_dir}: no reference pages (*.rst) there")
    chosen: dict[tuple[str, str], Page] = {}
    facts_only: set[tuple[str, str]] = set()
    for page_file in references:
        page = parse_page(page_file)
        if strict and page.warnings:
            raise ValueError(page.warnings[0])
        warnings.extend(page.warnings)
        chosen[(page.method, page.path)] = page
        facts_only.add((page.method, page.path))
    seeds: set[tuple[str, str]] = set()
    for page_file in files:
        try:
            page = parse_page(page_file)
        except PageError as exc:
            if strict:
                raise
            warnings.append(f"{exc} (page skipped)")
            continue
        warnings.extend(page.warnings)
        if strict and page.warnings:
            raise ValueError(page.warnings[0])
        key = (page.method, page.path)
        if key in facts_only and key not in seeds:  # the seed documents it in the reference's place
            del chosen[key]
            facts_only.discard(key)
        seeds.add(key)
        if key in chosen:
            if strict:
                raise ValueError(f"{page_file}: {page.method} {page.path} is documented twice")
            kept, dropped = (chosen[key], page) if _weight(chosen[key]) >= _weight(page) else (page, chosen[key])
            warnings.append(f"{dropped.source}: {page.method} {page.path} is also documented by {kept.source}, "
                            "which documents more; using that one")
            chosen[key] = kept
        else:
            chosen[key] = page
    paths: dict[str, Any] = {}
    ids: dict[str, int] = {}
    for key, page in chosen.items():
        for path, item in page_to_path_item(page).items():
            for operation in item.values():
                if key in facts_only:
                    keep_facts(operation)
                base = operation["operationId"]
                ids[base] = ids.get(base, 0) + 1
                if ids[base] > 1:
                    operation["operationId"] = f"{base}{ids[base]}"
                    warnings.append(f"{page.source}: operationId {base!r} is taken; this operation is "
                                    f"{operation['operationId']!r}")
            paths.setdefault(path, {}).update(item)
    return {"openapi": "3.0.3", "info": {"title": "", "version": ""}, "paths": paths}


def keep_facts(operation: dict[str, Any]) -> None:
    """Leave an operation built from a page only its facts: no summary, no descriptions (a response's
    is its status's reason phrase, which OpenAPI requires), examples and names as they are."""
    operation.pop("summary", None)
    operation.pop("description", None)
    for code, response in (operation.get("responses") or {}).items():
        response["description"] = HTTPStatus(int(code)).phrase if code.isdigit() else "Any other status."
        _drop_descriptions({k: v for k, v in response.items() if k != "description"})
    _drop_descriptions({k: v for k, v in operation.items() if k != "responses"})


_FACTS = ("example", "examples", "x-docs-example-request", "default", "enum")


def _drop_descriptions(node: Any) -> None:
    """Every ``description`` of a parameter, schema or header under ``node`` (a property named
    ``description`` is a field, and stays)."""
    if isinstance(node, list):
        for item in node:
            _drop_descriptions(item)
    elif isinstance(node, dict):
        node.pop("description", None)
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for field in value.values():
                    _drop_descriptions(field)
            elif key not in _FACTS:
                _drop_descriptions(value)


def _weight(page: Page) -> int:
    return (len(page.response_codes) + len(page.uri_params) + len(page.query_params) + len(page.header_params)
            + len(page.request_params) + len(page.response_params) + sum(e.has_body for e in page.examples))


def load_overlay(source: Path) -> dict[str, Any]:
    try:
        overlay = load_yaml(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{source}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    except YAMLError as exc:
        raise ValueError(f"{source}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(overlay, dict):
        raise ValueError(f"{source}: not an Overlay document (a mapping with 'overlay' and 'actions')")
    return overlay


def build(spec_dir: Path, reference_dir: Path | None = None) -> dict[str, Any]:
    """The committed contract: ``spec_dir``'s pages and overlay and the reference pages (default: found
    by :func:`find_reference`), every page read in full."""
    if not spec_dir.is_dir():
        raise ValueError(f"{spec_dir}: no such folder; --spec-dir takes a folder with {PAGES_DIR}/, {OVERLAY_FILE} "
                         f"and {OUTPUT_FILE}")
    overlay = load_overlay(spec_dir / OVERLAY_FILE)
    try:
        if not any((spec_dir / PAGES_DIR).glob("*.rst")):
            raise ValueError(f"{spec_dir / PAGES_DIR}: no reference pages (*.rst) there")
        document = pages_document(spec_dir / PAGES_DIR, reference_dir=reference_dir or find_reference(spec_dir))
    except ValueError as exc:
        if "no reference pages" in str(exc):
            raise ValueError(f"{exc}; --spec-dir takes a folder with {PAGES_DIR}/, {OVERLAY_FILE} and "
                             f"{OUTPUT_FILE}") from None
        raise
    return json_patch.precise(apply_overlay(document, overlay, str(spec_dir / OVERLAY_FILE)))


def build_from_pages(pages_dir: Path, overlay_file: Path | None = None) -> tuple[dict[str, Any], list[str]]:
    """A contract from any folder of operation pages (and an overlay, if given), with the warnings."""
    if not pages_dir.is_dir():
        raise ValueError(f"{pages_dir}: no such folder of reference pages")
    warnings: list[str] = []
    document = pages_document(pages_dir, warnings, strict=False)
    if overlay_file is not None:
        document = apply_overlay(document, load_overlay(overlay_file), str(overlay_file))
    else:
        document["info"] = {"title": f"Built from the reference pages in {pages_dir.name}", "version": "unversioned"}
        document["servers"] = [{"url": "/"}]
    return json_patch.precise(document), warnings


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # examples repeated across operations stay readable
        return True


def render(document: dict[str, Any], header: str = HEADER) -> str:
    return header + yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def write(spec_dir: Path, reference_dir: Path | None = None) -> Path:
    out = spec_dir / OUTPUT_FILE
    out.write_text(render(build(spec_dir, reference_dir)), encoding="utf-8")
    return out


def drift(spec_dir: Path, reference_dir: Path | None = None) -> str:
    """A unified diff between the committed ``openapi.yaml`` and a fresh build ('' when equal)."""
    out = spec_dir / OUTPUT_FILE
    committed = out.read_text(encoding="utf-8") if out.exists() else ""
    fresh = render(build(spec_dir, reference_dir))
    return "".join(difflib.unified_diff(
        committed.splitlines(keepends=True), fresh.splitlines(keepends=True),
        fromfile=f"{out} (committed)", tofile=f"{out} (built from spec/pages and spec/overlay.yaml)",
    ))
