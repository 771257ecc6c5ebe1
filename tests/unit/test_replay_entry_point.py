"""The replay engine has one entry point: the rest of the product imports `projections.replay`,
never the modules behind it (tests may look inside)."""

import ast
from pathlib import Path

PRODUCT_PACKAGES = ("ledger", "commands", "projections", "schemas")
ENGINE = "projections.replay"
ENGINE_DIRECTORY = Path("projections") / "replay"


def imported_modules(path: Path, root: Path) -> set[str]:
    """Every module a file imports (absolute imports; `from package import module` too)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            package = root.joinpath(*node.module.split("."))
            modules.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if (package / f"{alias.name}.py").exists()
            )
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_only_the_entry_point_is_imported_from_outside_the_engine() -> None:
    """No product module outside projections/replay imports projections.replay.<module>."""
    root = Path(__file__).resolve().parents[2]
    reaching_in = {
        str(path.relative_to(root)): sorted(
            module for module in imported_modules(path, root) if module.startswith(f"{ENGINE}.")
        )
        for package in PRODUCT_PACKAGES
        for path in (root / package).rglob("*.py")
        if not path.relative_to(root).is_relative_to(ENGINE_DIRECTORY)
    }
    assert {path: modules for path, modules in reaching_in.items() if modules} == {}
