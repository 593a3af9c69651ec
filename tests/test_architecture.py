"""The layers of ARCHITECTURE.md: which module may import which."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mock"
LAYERS = {
    "builder": {"docs_page", "page_to_openapi", "overlay", "spec_build"},
    "contract": {"contract", "paths", "fast_schema", "yaml_files"},
    "engine": {"world", "scenarios", "templating", "samples", "engine", "journal"},
    "adapters": {"app", "handler", "logs", "admin", "errors", "validators", "exchange", "server", "testing", "pytest_plugin", "reloader", "cli"},
}
ALLOWED = {
    "builder": LAYERS["builder"] | {"paths", "yaml_files"},
    "contract": {"paths", "fast_schema", "yaml_files"},
    "engine": LAYERS["contract"] | LAYERS["engine"],
    "adapters": set().union(*LAYERS.values()),
}
FRAMEWORKS = {"connexion", "starlette", "uvicorn"}


def imports(module: str) -> tuple[set[str], set[str]]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    local, external = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                local.add(node.module.split(".")[0])
            else:  # from . import name
                local.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            external.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            external.update(alias.name.split(".")[0] for alias in node.names)
    return local, external


def test_every_module_has_a_layer():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set().union(*LAYERS.values())


@pytest.mark.parametrize("layer,module", [(layer, m) for layer, ms in LAYERS.items() for m in sorted(ms)])
def test_imports_respect_the_layers(layer, module):
    local, external = imports(module)
    assert local <= ALLOWED[layer], f"{module} ({layer}) imports {sorted(local - ALLOWED[layer])}"
    if layer != "adapters":
        assert not external & FRAMEWORKS, f"{module} ({layer}) imports {sorted(external & FRAMEWORKS)}"
