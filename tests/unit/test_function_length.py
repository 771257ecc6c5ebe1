"""Functions are at most 70 lines unless a comment says why (the brief's rule, TIGER_STYLE): a
longer one carries a comment on its `def` (or its decorators or the line above it)."""

import ast
import io
import tokenize
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "ledger", "projections", "commands", "tests")
MAX_FUNCTION_LINES = 70


def product_sources() -> Iterable[tuple[str, str]]:
    """(path, text) of every Python module of the packages, tests included."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def long_functions_without_a_reason(sources: Iterable[tuple[str, str]]) -> list[str]:
    """`path:line name (N lines)` of every long function with no comment from the line above
    its decorators to its first body line."""
    found = []
    for where, text in sources:
        tokens = tokenize.generate_tokens(io.StringIO(text).readline)
        comments = {token.start[0] for token in tokens if token.type == tokenize.COMMENT}
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            assert node.end_lineno is not None
            lines = node.end_lineno - node.lineno + 1
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            said = comments & set(range(first, node.body[0].lineno + 1))
            if lines > MAX_FUNCTION_LINES and not said:
                found.append(f"{where}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_a_function_over_70_lines_says_why() -> None:
    assert long_functions_without_a_reason(product_sources()) == []


def test_the_check_counts_lines_and_reads_the_reason() -> None:
    def source(lines: int, signature: str = "def f() -> None:") -> str:
        return signature + "\n" + "".join(f"    x{n} = {n}\n" for n in range(lines - 1))

    assert long_functions_without_a_reason([("m.py", source(MAX_FUNCTION_LINES))]) == []
    too_long = source(MAX_FUNCTION_LINES + 1)
    assert long_functions_without_a_reason([("m.py", too_long)]) == ["m.py:1 f (71 lines)"]
    with_reason = source(MAX_FUNCTION_LINES + 1, "def f() -> None:  # one loop on purpose")
    assert long_functions_without_a_reason([("m.py", with_reason)]) == []
    above = "# one loop, kept whole on purpose\n" + too_long
    assert long_functions_without_a_reason([("m.py", above)]) == []
