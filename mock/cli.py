"""The ``cloud-backup-mock`` command: a thin layer over the package's modules."""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
from pathlib import Path

import click

from . import __version__
from .shipped import ProjectFiles, project_files

DEFAULT_FILES = "the current directory's cloud-backup-mock checkout's, else the shipped one"


@click.group()
@click.version_option(__version__, prog_name="cloud-backup-mock")
def main() -> None:
    """Mock server and contract tools for the Cloud Backup API v2."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (loopback unless told otherwise).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--scenarios", "scenarios_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, show_default=DEFAULT_FILES, help="Folder of scenario files (and world.yaml).")
@click.option("--scenario-file", "scenario_files", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="An extra scenario file, outside the folder (repeatable).")
@click.option("--scenario", "active", multiple=True, metavar="NAME[;key=value]",
              help="Activate a scenario for every project (repeatable; tried in the order given).")
@click.option("--token-ttl", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Lifetime of tokens from authenticateAgent  [default: world.yaml's, 86400]")
@click.option("--auto-report-after", default=None, metavar="SECONDS|never",
              help="Report vault requests on the agent's behalf after this delay  [default: world.yaml's, 5]")
@click.option("--journal-size", type=click.IntRange(min=1), default=None,
              help="Requests kept in the journal (same as --limit journal_entries=N)  [default: 1000]")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=None,
              help="Larger request bodies are refused with 413 (same as --limit max_body_bytes=N)  [default: 1048576]")
@click.option("--limit", "limits", multiple=True, metavar="NAME=VALUE",
              help="Set one of the server's bounds, e.g. max_projects=500 (repeatable; the README lists them).")
@click.option("--journal-mask", "journal_mask", multiple=True, metavar="NAME",
              help="Also mask this header or body field in the journal (repeatable).")
@click.option("--admin-token", default=None, envvar="CLOUD_BACKUP_MOCK_ADMIN_TOKEN", metavar="TOKEN",
              help="Require this X-Admin-Token on the admin API (also $CLOUD_BACKUP_MOCK_ADMIN_TOKEN).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes. Without --state redis://, each keeps its own world and journal.")
@click.option("--state", default="memory", show_default=True, envvar="CLOUD_BACKUP_MOCK_STATE",
              metavar="memory|redis://HOST:PORT/DB|redis+cluster://HOST:PORT",
              help="Where projects' state and the journal are kept: this process, or a Redis shared by every "
                   "worker and replica (also $CLOUD_BACKUP_MOCK_STATE).")
@click.option("--reload", is_flag=True, help="Pick up edited scenario files without a restart.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Format of the one line logged per request.")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              show_default=DEFAULT_FILES, help="The OpenAPI document to serve.")
def serve(host, port, scenarios_dir, scenario_files, active, token_ttl, auto_report_after, journal_size,
          max_body_bytes, limits, journal_mask, admin_token, workers, state, reload, log_format, spec_file) -> None:
    """Start the mock server."""
    from .config import CONFIG_ENVIRONMENT_VARIABLE, MockConfig
    from .contract import ContractError
    from .engine.reloader import ScenarioReloader
    from .engine.scenarios import ScenarioError
    from .http.app import create_app
    from .http.logs import configure_process
    from .http.server import bind, run_foreground

    configure_process(log_format=log_format)
    files = project_files()
    scenarios_dir = scenarios_dir or files.scenarios_dir
    spec_file = spec_file or files.spec_file
    _raise_open_file_limit()
    settings: dict = {}
    if token_ttl is not None:
        settings["token_ttl_seconds"] = token_ttl
    if auto_report_after is not None:
        try:
            settings["auto_report_after_seconds"] = None if auto_report_after == "never" else float(auto_report_after)
        except ValueError:
            raise click.BadParameter("a number of seconds or 'never'", param_hint="--auto-report-after") from None
    bounds = {}
    for item in limits:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--limit")
        bounds[name.strip()] = value.strip()
    config = MockConfig(spec_file=spec_file, scenarios_dir=scenarios_dir, scenario_files=list(scenario_files),
                        active=list(active), log_format=log_format, settings=settings, limits=bounds,
                        journal_size=journal_size, max_body_bytes=max_body_bytes, admin_token=admin_token,
                        journal_mask=list(journal_mask), state=_state(state))
    if workers > 1 and config.state == "memory":
        click.echo(f"warning: --workers {workers} without --state redis://: each worker keeps its own world, "
                   "scenario selections and journal, so a client's next request may reach a worker that has "
                   "never seen its token or agent; use --state redis://HOST:PORT/DB for a stateful sandbox",
                   err=True)
    if not admin_token and not _is_loopback(host):
        click.echo(f"warning: listening on {host} beyond loopback with an open admin API: anyone who reaches it "
                   "can change scenarios and reset state; set --admin-token", err=True)
    if workers > 1 and reload:
        raise click.UsageError("--reload works with one worker only")
    try:
        app = create_app(config)  # also checks the configuration before any worker starts
    except (ContractError, ScenarioError, ValueError, KeyError) as exc:
        # A KeyError's str() is its message quoted; the message itself keeps every quote it has.
        problems = (exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)).splitlines()
        click.echo(f"error: cannot start the mock: {problems[0]}", err=True)
        for problem in problems[1:]:
            click.echo(problem, err=True)
        sys.exit(2)
    try:
        sock = bind(host, port)
    except OSError as exc:
        hint = ("pick another with --port, or --port 0 for a free one" if exc.errno == errno.EADDRINUSE
                else "check --host and --port")
        click.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}; {hint}", err=True)
        sys.exit(2)
    bound = sock.getsockname()[1]
    if config.state != "memory":
        _check_redis(config.state)
    shown = f"[{host}]" if ":" in host else host
    banner = (f"cloud-backup-mock on http://{shown}:{bound} ({len(app.engine.scenarios)} scenarios from "
              f"{scenarios_dir}; contract {spec_file}; active: {', '.join(active) or 'default world'}; state: {_shown_state(config.state)})"
              f"; Swagger UI at "
              f"http://{shown}:{bound}/ui/, admin API at http://{shown}:{bound}/__mock/ui/")
    if log_format == "json":  # every line on stderr is then one JSON object
        logging.getLogger("cloud_backup_mock").info("%s", banner)
    else:
        click.echo(banner, err=True)
    if workers > 1:
        os.environ[CONFIG_ENVIRONMENT_VARIABLE] = config.to_json()
        run_foreground("cloud_backup_mock.http.app:app_from_environment", sock, app.engine.limits, workers=workers)
        return
    reloader = ScenarioReloader(app.engine, scenarios_dir, list(scenario_files))
    if reload:
        reloader.start()
    _reload_on_sighup(reloader)
    try:
        run_foreground(app, sock, app.engine.limits)
    finally:
        reloader.stop()


def _state(value: str) -> str:
    """``--state``: ``memory`` or a Redis URL, with redis-py and hiredis installed; else one line and exit 2."""
    value = value.strip()
    if value == "memory":
        return value
    if not value.startswith(("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")):
        raise click.BadParameter(f"{value!r} is neither 'memory' nor a redis:// URL (redis://HOST:PORT/DB, or "
                                 "redis+cluster://HOST:PORT for a Redis Cluster)", param_hint="--state")
    try:
        import hiredis  # noqa: F401
        import redis  # noqa: F401
    except ImportError:
        click.echo("error: --state redis:// needs the Redis client: pip install 'cloud-backup-mock[redis]'", err=True)
        sys.exit(2)
    return value


def _shown_state(state: str) -> str:
    from .engine import shown_url  # not redis_store: `serve` runs without the Redis client

    return state if state == "memory" else shown_url(state)


def _check_redis(url: str) -> None:
    """Say at start-up when Redis cannot be reached: the mock starts anyway and answers 503 until it can."""
    import redis

    from .engine import cluster_seed

    seed = cluster_seed(url)
    client = None
    try:  # a cluster client reads the slot map as it is made
        client = (redis.RedisCluster.from_url(seed, socket_timeout=2, socket_connect_timeout=2) if seed
                  else redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))
        client.ping()
    except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException, OSError) as exc:
        click.echo(f"warning: --state {_shown_state(url)}: Redis cannot be reached now ({exc}); requests are "
                   "answered 503 until it can", err=True)
    finally:
        if client is not None:
            client.close()


def _load_contract(spec_file: Path):
    """The contract in ``spec_file``, or one line naming the file and the problem, and exit 2."""
    from .contract import Contract, ContractError

    try:
        return Contract.load(spec_file)
    except ContractError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def _reload_on_sighup(reloader) -> None:
    """SIGHUP reloads the scenario files (the last good set stays if they are broken), as daemons do."""
    import signal
    import threading

    def reload(signum, frame) -> None:
        threading.Thread(target=reloader.check, kwargs={"force": True}, name="sighup-reload", daemon=True).start()

    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, reload)


def _raise_open_file_limit() -> None:
    """Open connections are file descriptors: let the process have as many as the system allows it,
    so max_connections (not the soft limit) decides when a client is turned away."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@main.command()
@click.argument("directory", required=False, metavar="[DIR]",
                type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              show_default=DEFAULT_FILES, help="The contract the scenarios must keep to.")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one object on stdout, {ok, scenarios, problems}, for tools.")
def lint(directory: Path | None, spec_file: Path | None, output: str) -> None:
    """Check scenario files against their schema and the contract: every problem, one line each (exit 1
    on any). DIR: the scenario folder (default: the current directory's checkout's, else the
    shipped one)."""
    from .engine.scenarios import ScenarioError, load_directory

    files = project_files()
    chosen = _chosen(files, directory is None or spec_file is None, "DIR and --spec choose others")
    directory, spec_file = directory or files.scenarios_dir, spec_file or files.spec_file
    contract = _load_contract(spec_file)
    try:
        scenarios, problems = load_directory(directory, contract), []
    except ScenarioError as exc:
        scenarios, problems = {}, exc.problems
    if output == "json":
        click.echo(json.dumps({"ok": not problems, "directory": str(directory), "spec": str(spec_file),
                               "scenarios": sorted(scenarios), "problems": problems}, indent=2))
        sys.exit(1 if problems else 0)
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        click.echo(f"{len(problems)} problem(s) in {directory} against {spec_file}{chosen}", err=True)
        sys.exit(1)
    click.echo(f"{len(scenarios)} scenarios in {directory} keep to {spec_file}{chosen}.")


@main.command()
@click.option("--base-url", required=True, help="The server to check, e.g. https://staging.example.com")
@click.option("--max-examples", type=click.IntRange(min=1), default=20, show_default=True,
              help="Generated requests per operation (positive and negative data).")
@click.option("--include-operation-id", "operation_ids", multiple=True, metavar="OPERATION_ID",
              help="Check only this operation (repeatable; default: every operation). No stateful phase then.")
@click.option("--auth-token", default=None, envvar="CLOUD_BACKUP_AUTH_TOKEN", metavar="TOKEN",
              help="X-Auth-Token to send (also $CLOUD_BACKUP_AUTH_TOKEN); e.g. the mock's 0f6e9f63600142f0a970911583522217.")
@click.option("--allow-untested", "allow_untested", multiple=True, metavar="OPERATION_ID",
              help="Accept this operation untested (no documented success for a valid request) without exit 2 "
                   "(repeatable).")
@click.option("--seed", type=int, default=None, help="Random seed, to replay a run.")
@click.option("--junit-xml", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a JUnit XML report here (for CI): one case per operation.")
@click.option("--report", "report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write what each operation got as JSON here.")
@click.option("--har", "har", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Keep every request and answer as a HAR file here.")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              show_default=DEFAULT_FILES, help="The contract to check against.")
def check(base_url, max_examples, operation_ids, auth_token, allow_untested, seed, junit_xml, report, har,
          spec_file) -> None:
    """Run schemathesis (every check, valid and invalid data) against a server claiming to implement the
    contract, and count per operation what was really tested. Exit 0: it conforms and every operation was
    tested; 1: it breaks the contract (each failure printed with a curl line); 2: something could not be
    tested (unreachable, an operation that never got a documented success for a valid request, a bad
    option)."""
    import importlib.util

    if importlib.util.find_spec("schemathesis") is None:
        click.echo("error: `check` runs schemathesis, which is not installed: "
                   "pip install 'cloud-backup-mock[check]'", err=True)
        sys.exit(2)
    from .testing.check import CheckOptions, run_check

    spec_file = spec_file or project_files().spec_file
    contract = _load_contract(spec_file)
    for option, chosen in (("--include-operation-id", operation_ids), ("--allow-untested", allow_untested)):
        unknown = [o for o in chosen if o not in contract.operations]
        if unknown:
            click.echo(f"error: {option} {unknown[0]!r} is not an operation of {spec_file}; known: "
                       f"{', '.join(sorted(contract.operations))}", err=True)
            sys.exit(2)
    for option, path in (("--junit-xml", junit_xml), ("--report", report), ("--har", har)):
        if path is not None and not path.resolve().parent.is_dir():
            click.echo(f"error: {option} {path}: the folder {path.resolve().parent} does not exist", err=True)
            sys.exit(2)
    options = CheckOptions(spec_file, base_url, max_examples, tuple(operation_ids), auth_token, seed, junit_xml,
                           report, har, tuple(allow_untested), color=sys.stdout.isatty())
    result = run_check(options, contract)
    click.echo(("" if result.status == 0 else "error: " if result.status == 2 else "") + result.message,
               err=result.status != 0)
    sys.exit(result.status)


@main.group()
def spec() -> None:
    """Build and check spec/openapi.yaml from the reference pages."""


_spec_dir = click.option(
    "--spec-dir", type=click.Path(file_okay=False, path_type=Path), default=None, show_default=DEFAULT_FILES,
    help="Folder with pages/*.rst, overlay.yaml and openapi.yaml.",
)
_reference_dir = click.option(
    "--reference-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="The API's reference pages (default: $CLOUD_BACKUP_API_REFERENCE_DIR, or shared/reference/"
         "cloud-backup-v2-api beside the checkout).",
)


@spec.command("build")
@_spec_dir
@_reference_dir
@click.option("--pages", "pages_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Build from this folder of reference pages instead (any copy of the API's docs).")
@click.option("--overlay", "overlay_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --pages: an Overlay 1.0 document to apply (default: none).")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --pages: where to write the contract (default: standard output).")
def spec_build_command(spec_dir: Path | None, reference_dir: Path | None, pages_dir: Path | None,
                       overlay_file: Path | None, output: Path | None) -> None:
    """Rebuild openapi.yaml from the pages and the overlay, or build a contract from any folder of pages."""
    from .builder import spec_build

    if pages_dir is None:
        if overlay_file or output:
            raise click.UsageError("--overlay and -o go with --pages")
        spec_dir, chosen = _spec_dir_of(spec_dir)
        with _contract_errors():
            out = spec_build.write(spec_dir, reference_dir)
        click.echo(f"wrote {out}{chosen}")
        return
    with _contract_errors():
        document, warnings = spec_build.build_from_pages(pages_dir, overlay_file)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    header = f"# Built by `cloud-backup-mock spec build --pages` from {pages_dir}.\n"
    text = spec_build.render(document, header)
    operations = sum(1 for item in document["paths"].values() for m in item if m in ("get", "put", "post", "delete", "patch"))
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            click.echo(f"error: {output}: cannot write: {exc.strerror or exc}", err=True)
            sys.exit(2)
    click.echo(f"{operations} operations from {pages_dir}" + (f" written to {output}" if output else "")
               + f" ({len(warnings)} warnings)", err=True)


@spec.command("check")
@_spec_dir
@_reference_dir
def spec_check_command(spec_dir: Path | None, reference_dir: Path | None) -> None:
    """Fail, with a diff, when openapi.yaml differs from a fresh build (exit 1); exit 2 when it cannot
    be built here (the reference pages are not found)."""
    from .builder import spec_build

    spec_dir, chosen = _spec_dir_of(spec_dir)
    with _contract_errors():
        diff = spec_build.drift(spec_dir, reference_dir)
    if diff:
        click.echo(diff, nl=False)
        click.echo(f"\n{spec_dir / spec_build.OUTPUT_FILE} is out of date: run `cloud-backup-mock spec build`"
                   f"{chosen}.", err=True)
        sys.exit(1)
    click.echo(f"{spec_dir / spec_build.OUTPUT_FILE} is up to date{chosen}.")


def _spec_dir_of(spec_dir: Path | None) -> tuple[Path, str]:
    """``--spec-dir``, else the default one; and what the command's last line says of where it came from."""
    files = project_files()
    return spec_dir or files.spec_dir, _chosen(files, spec_dir is None, "--spec-dir chooses another")


def _chosen(files: ProjectFiles, defaulted: bool, how: str) -> str:
    """What a command's summary line adds when it used a default file: whose it is, and the option that
    chooses another (nothing when every file was given)."""
    return f" ({files.origin}; {how})" if defaulted else ""


@spec.command("parse")
@click.argument("page", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def spec_parse_command(page: Path) -> None:
    """Print, as JSON, the OpenAPI paths entry one page yields (before any overlay)."""
    from .builder.docs_page import parse_page
    from .builder.page_to_openapi import page_to_path_item

    with _contract_errors():
        parsed = parse_page(page)
        item = page_to_path_item(parsed)
    for warning in parsed.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(json.dumps(item, indent=2, ensure_ascii=False))


class _contract_errors:
    """Report a page or overlay error as one readable line and exit 2."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        # The builder (docutils) is imported by the spec commands only: `serve` never loads it.
        from .builder.docs_page import PageError
        from .builder.overlay import OverlayError

        if isinstance(exc, (PageError, OverlayError, ValueError)):
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        return False
