"""The layers of ARCHITECTURE.md: which part of the package may import which, and who may import an
HTTP framework. Every module is checked; the rules themselves are checked to refuse something."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mock"
ROOT = "cloud_backup_mock"
# "base": the top-level modules everything may use: where shipped files are (shipped), YAML (yaml_files),
# the configuration (config), and the one module that touches third-party internals (internals).
LAYERS = ["builder", "contract", "engine", "http", "testing"]
MAY_IMPORT = {
    "base": {"base"},
    "builder": {"base", "builder"},
    "contract": {"base", "contract"},
    "engine": {"base", "contract", "engine"},
    "http": {"base", "contract", "engine", "http"},
    "testing": {"base", "contract", "engine", "http", "testing"},
    "cli": {"base", *LAYERS, "cli"},
    "__main__": {"cli"},
}
FRAMEWORKS = {"connexion", "starlette", "uvicorn"}
MAY_IMPORT_FRAMEWORKS = {"http", "internals"}  # internals only inside functions, to name their internals


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((ROOT, *parts))


def layer_of(name: str) -> str:
    """``cloud_backup_mock.engine.world`` -> ``engine``; other top-level modules are the ``base``."""
    parts = name.split(".")
    if len(parts) > 1 and (parts[1] in LAYERS or parts[1] in ("cli", "__main__")):
        return parts[1]
    return "base"


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(modules of the package, top-level third-party packages) that a file imports, anywhere in it."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    local, external = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            if node.module:
                local.add(f"{base}.{node.module}")
            else:  # from . import name
                local.update(f"{base}.{alias.name}" for alias in node.names)
            continue
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        for imported in names:
            if imported == ROOT or imported.startswith(ROOT + "."):
                local.add(imported)
            else:
                external.add(imported.split(".")[0])
    return local, external


def violations(layer: str, module_basename: str, local: set[str], external: set[str]) -> list[str]:
    allowed = MAY_IMPORT[layer]
    problems = [f"imports {t} ({layer_of(t)})" for t in sorted(local) if layer_of(t) not in allowed]
    framework_ok = layer in MAY_IMPORT_FRAMEWORKS or module_basename in MAY_IMPORT_FRAMEWORKS
    if not framework_ok:
        problems += [f"imports {f}" for f in sorted(external & FRAMEWORKS)]
    return problems


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_folder_is_a_layer():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_imports_respect_the_layers(path):
    name = module_name(path)
    layer = layer_of(name)
    local, external = imports(path)
    assert violations(layer, path.stem, local, external) == [], f"{name} ({layer})"


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_every_rule_refuses_something(layer):
    """No rule lets everything through: for each layer, a planted import of a layer it may not use, or
    of an HTTP framework where frameworks are not allowed, is caught."""
    forbidden = sorted(set(LAYERS + ["cli", "base"]) - MAY_IMPORT[layer])
    if forbidden:
        target = ROOT if forbidden[0] == "base" else f"{ROOT}.{forbidden[0]}.anything"
        assert violations(layer, "x", {target}, set()), forbidden[0]
    if layer not in MAY_IMPORT_FRAMEWORKS:
        assert violations(layer, "x", set(), {"starlette"}) == ["imports starlette"]
    assert forbidden or layer not in MAY_IMPORT_FRAMEWORKS


def test_the_checker_reads_relative_imports(tmp_path, monkeypatch):
    """``from ..http.app import x`` inside ``engine/`` is seen as the http layer; ``from . import y`` as its own."""
    planted = tmp_path / "mock" / "engine" / "planted.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("from ..http.app import create_app\nfrom . import world\nimport uvicorn\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "mock")
    local, external = imports(planted)
    assert local == {f"{ROOT}.http.app", f"{ROOT}.engine.world"} and external == {"uvicorn"}
    assert violations("engine", "planted", local, external) == [f"imports {ROOT}.http.app (http)", "imports uvicorn"]


def test_loading_the_pytest_plugin_imports_no_framework():
    """pytest loads the plugin in every session of a project that has the package installed."""
    probe = ("import sys, cloud_backup_mock.testing.plugin, cloud_backup_mock.testing; "
             "print(sorted(m for m in ('connexion', 'starlette', 'uvicorn', 'jinja2', 'jsonschema', 'httpx') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-W", "error", "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_importing_the_http_layer_raises_no_warning():
    out = subprocess.run([sys.executable, "-W", "error", "-c", "import cloud_backup_mock.http.app"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
