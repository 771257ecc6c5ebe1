"""The README's layout table matches the tree: every folder it names exists, every folder of the
packages (and the top-level docs/) is named (a Python package by its own row), and every module
or file a row names is in its folder."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "ledger", "projections", "commands", "tests")
FOLDERS = (*PACKAGES, "docs")
ROW = re.compile(r"^\| `(?P<folder>[\w/]+)/` \|")
# A file or folder a row's description names: `grant_book.py`, `static/`, `README.md`.
NAMED = re.compile(r"`(?P<name>[\w.-]+(?:\.(?:py|md|jsonl)|/))`")


def layout_rows() -> list[str]:
    """The rows of the README's layout table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return [line for line in layout.splitlines() if ROW.match(line)]


def documented_folders() -> set[str]:
    """The folders in the README's layout table."""
    return {match["folder"] for line in layout_rows() if (match := ROW.match(line))}


def folders_in_the_tree() -> set[str]:
    """Every folder of the packages holding Python modules or data (not caches)."""
    found = set()
    for package in FOLDERS:
        for path in [ROOT / package, *(ROOT / package).rglob("*")]:
            relative = path.relative_to(ROOT)
            if path.is_dir() and "__pycache__" not in relative.parts:
                found.add(relative.as_posix())
    return found


def test_every_documented_folder_exists() -> None:
    assert documented_folders() - folders_in_the_tree() == set()


def test_every_folder_is_documented_or_inside_one_that_is() -> None:
    documented = documented_folders()
    undocumented = {
        folder
        for folder in folders_in_the_tree()
        if not any(folder == d or folder.startswith(f"{d}/") for d in documented)
    }
    assert undocumented == set()
    packages = {
        path.parent.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("__init__.py")
    }
    assert packages <= documented, "every Python package has its own row"


def test_every_file_a_row_names_is_in_its_folder() -> None:
    named, missing = 0, []
    for line in layout_rows():
        match = ROW.match(line)
        assert match is not None
        folder = ROOT / match["folder"]
        for name in NAMED.findall(line.split("|")[3]):
            named += 1
            # A row may name a file of its folder, of a sub-folder, or a path from the root.
            if (
                not (folder / name).exists()
                and not (ROOT / name).exists()
                and not any(folder.rglob(name.rstrip("/")))
            ):
                missing.append(f"{match['folder']}/: {name}")
    assert named > 0 and missing == []


# What would give a unit test I/O beyond reading the repository: a temporary directory, a store.
UNIT_IO = re.compile(r"\b(tmp_path|tmp_path_factory|tempfile|sqlite3|psycopg)\b")


def test_unit_tests_do_what_the_readme_says_no_temporary_files_and_no_store() -> None:
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted((ROOT / "tests" / "unit").glob("*.py"))
        if path.name != "test_layout.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if UNIT_IO.search(line)
    ]
    assert found == []
