"""The ``cloud-backup-mock`` command: a thin layer over the package's modules."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import spec_build
from .docs_page import PageError, parse_page
from .overlay import OverlayError
from .page_to_openapi import page_to_path_item
from .paths import SPEC_DIR


@click.group()
def main() -> None:
    """Mock server and contract tools for the Cloud Backup API v2 (agents and vaults)."""


@main.group()
def spec() -> None:
    """Build and check spec/openapi.yaml from the reference pages."""


_spec_dir = click.option(
    "--spec-dir", type=click.Path(file_okay=False, path_type=Path), default=SPEC_DIR, show_default=True,
    help="Folder with pages/*.rst, overlay.yaml and openapi.yaml.",
)


@spec.command("build")
@_spec_dir
def spec_build_command(spec_dir: Path) -> None:
    """Rebuild openapi.yaml from the pages and the overlay."""
    with _contract_errors():
        out = spec_build.write(spec_dir)
    click.echo(f"wrote {out}")


@spec.command("check")
@_spec_dir
def spec_check_command(spec_dir: Path) -> None:
    """Fail, with a diff, when openapi.yaml differs from a fresh build."""
    with _contract_errors():
        diff = spec_build.drift(spec_dir)
    if diff:
        click.echo(diff, nl=False)
        click.echo(f"\n{spec_dir / spec_build.OUTPUT_FILE} is out of date: run `cloud-backup-mock spec build`.", err=True)
        sys.exit(1)
    click.echo(f"{spec_dir / spec_build.OUTPUT_FILE} is up to date.")


@spec.command("parse")
@click.argument("page", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def spec_parse_command(page: Path) -> None:
    """Print, as JSON, the OpenAPI paths entry one page yields (before any overlay)."""
    with _contract_errors():
        item = page_to_path_item(parse_page(page))
    click.echo(json.dumps(item, indent=2, ensure_ascii=False))


class _contract_errors:
    """Report a page or overlay error as one readable line and exit 2."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if isinstance(exc, (PageError, OverlayError, ValueError)):
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        return False
