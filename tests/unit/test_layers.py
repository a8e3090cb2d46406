"""The house's layers, read from the import statements of every module (no import is run):

- `shared.contracts` imports only pydantic, the standard library and itself;
- `shared.rules` imports only contracts, itself and the standard library (pure: no I/O);
- `shared.platform` never imports rules, a service or the gateway;
- no service imports another service or the gateway, and the gateway imports no service.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package.replace(".", "/")).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Top-level names of what a module imports, dotted as written (relative imports
    resolved against the module's own package)."""
    tree = ast.parse(path.read_text(), str(path))
    own = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = own.rsplit(".", node.level - 1)[0] if node.level > 1 else own
                found.add(f"{base}.{node.module}" if node.module else base)
            else:
                found.add(node.module or "")
    return found


def offenders(package: str, allowed) -> list[str]:
    return [f"{path.relative_to(ROOT)} imports {name}"
            for path in modules(package) for name in sorted(imported(path)) if not allowed(name)]


def _under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_contracts_import_only_pydantic_and_the_standard_library():
    assert offenders("shared.contracts", lambda n: n.split(".")[0] in STDLIB
                     or _under(n, "pydantic", "shared.contracts")) == []


def test_rules_are_pure_and_import_only_contracts():
    assert offenders("shared.rules", lambda n: n.split(".")[0] in STDLIB
                     or _under(n, "shared.contracts", "shared.rules")) == []


def test_the_platform_kit_knows_contracts_but_no_rules_service_or_gateway():
    assert offenders("shared.platform", lambda n: not _under(
        n, "shared.rules", "services", "gateway")) == []


@pytest.mark.parametrize("service", ["annotation", "task", "workflow"])
def test_a_service_imports_no_other_service_and_not_the_gateway(service):
    own = f"services.{service}"
    assert offenders(own, lambda n: _under(n, own) or not _under(n, "services", "gateway")) == []


def test_the_gateway_imports_no_service():
    assert offenders("gateway", lambda n: not _under(n, "services")) == []


def test_shared_has_exactly_its_three_parts():
    top = sorted(p.name for p in (ROOT / "shared").iterdir()
                 if not p.name.startswith(("_", ".")) and p.name != "__pycache__")
    assert top == ["contracts", "platform", "rules"]
