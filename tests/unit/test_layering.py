"""What may import what in the layer (docs/architecture.md, "The layers"), checked.

A rule that lives only in a document drifts; this reads every module's imports (its
`import` and `from ... import` statements, at any depth: a lazy import is still a
dependency) and fails on one that crosses a boundary, naming it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "shared/portal_accounts"
FOUNDATIONS = {"config", "clock", "errors", "validation", "usernames", "observability", "clients"}
PERSISTENCE = {"models", "dynamodb", "revision", "pagination"}
DOMAIN = ("accounts", "credentials", "signin", "search", "email", "audit")
EDGE = ("api", "pages")
OUTSIDE = ("functions", "local", "tests", "pydantic", "moto")


def _name(path: Path) -> str:
    """accounts.lifecycle for shared/portal_accounts/accounts/lifecycle.py."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> tuple[list[tuple[str, str | None]], list[str]]:
    """The package's modules a module imports, as (module, name) without the package's
    prefix (name: what a `from` import takes from a module, None for a module), and the
    top-level names of everything else it imports."""
    ours: list[tuple[str, str | None]] = []
    others: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("portal_accounts."):
                    ours.append((alias.name.removeprefix("portal_accounts."), None))
                else:
                    others.append(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            package, _, rest = node.module.partition(".")
            if package != "portal_accounts":
                others.append(package)
                continue
            for alias in node.names:
                # from portal_accounts.credentials import passwords: credentials.passwords
                dotted = f"{rest}.{alias.name}" if rest else alias.name
                ours.append((dotted, None) if _is_module(dotted) else (rest, alias.name))
    return ours, others


def _is_module(dotted: str) -> bool:
    path = PACKAGE.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


MODULES = {}
OTHERS = {}
for _path in sorted(PACKAGE.rglob("*.py")):
    MODULES[_name(_path)], OTHERS[_name(_path)] = _imports(_path)


def _crossings(modules: set[str] | None, allowed) -> list[str]:
    return [
        f"{module} imports {target}" + (f" ({name})" if name else "")
        for module, imports in MODULES.items()
        if modules is None or module.split(".")[0] in modules
        for target, name in imports
        if not allowed(module, target, name)
    ]


def _top(target: str) -> str:
    return target.split(".")[0]


def test_the_modules_were_read():
    assert {"signin.auth", "credentials.passwords", "accounts.lifecycle", "models"} <= set(MODULES)
    assert ("credentials.passwords", None) in MODULES["signin.auth"]


def test_foundations_import_only_foundations():
    # clients.dynamodb() reads the models' region when it first makes the connection.
    def allowed(module, target, name):
        return _top(target) in FOUNDATIONS or (module, target) == ("clients", "models")

    assert _crossings(FOUNDATIONS, allowed) == []


def test_persistence_imports_only_persistence_and_foundations():
    assert _crossings(PERSISTENCE, lambda m, t, n: _top(t) in FOUNDATIONS | PERSISTENCE) == []


@pytest.mark.parametrize("package", ["credentials", "search"])
def test_credentials_and_search_use_neither_side(package):
    # Both sides use them: the operator's (accounts/) and the storefront's (signin/).
    def allowed(module, target, name):
        return _top(target) in FOUNDATIONS | PERSISTENCE | {package}

    assert _crossings({package}, allowed) == []


def test_the_storefront_reads_accounts_but_never_writes_them():
    def allowed(module, target, name):
        if _top(target) == "accounts":
            return target == "accounts.lifecycle" and name == "get_account"
        return True

    assert _crossings({"signin"}, allowed) == []


def test_the_domain_never_reaches_into_the_edge():
    assert _crossings(set(DOMAIN), lambda m, t, n: _top(t) not in EDGE) == []


def test_the_layer_imports_nothing_of_the_repository_or_of_development():
    outside = [
        f"{module} imports {package}"
        for module, packages in OTHERS.items()
        for package in packages
        if package in OUTSIDE
    ]
    assert outside == []
