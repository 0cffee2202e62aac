"""Which files ingest picks up under a folder: ``.clerkignore`` rules, through ``discover()`` itself.

The folders are built from real corpus files under the names a council's file
share might use; discovery only reads names and ``.clerkignore`` files, so
what is asserted is exactly the list ``discover()`` hands to the loaders.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ingest.discover import IGNORE_FILE, discover
from tests.helpers import CORPUS, corpus_file

TEXT = "nwldc/productivity-plan.txt"
PDF = "hertingfordbury-pc/hpc-minutes-2019-02-13.pdf"

#: Every file of the tree below, as (path under the root, the corpus file it is a copy of).
TREE = {
    "policy.txt": TEXT,
    "policy.draft.txt": TEXT,  # root rule, by name
    "#2 scan.pdf": PDF,  # only a commented-out rule names it
    "private.txt": TEXT,  # the nested rule is sub's own, not the root's
    "minutes/2019/2019-02-13.pdf": PDF,  # root rule, by path
    "minutes/2019/2019-02-13.txt": TEXT,
    "minutes/2020/2020-01-08.pdf": PDF,
    "deeper/report.pdf": PDF,  # sub's path rule is relative to sub
    "sub/private.txt": TEXT,  # sub's rule, by name
    "sub/notes.draft.txt": TEXT,  # the root's name rule reaches below it
    "sub/kept.txt": TEXT,
    "sub/deeper/private.txt": TEXT,  # sub's name rule reaches below it
    "sub/deeper/report.pdf": PDF,  # sub's rule, by path
    "sub/deeper/summary.pdf": PDF,
    "other/private.txt": TEXT,  # a sibling of sub: sub's rules stay in sub
}
ROOT_IGNORE = "# drafts and the 2019 scans stay out\n*.draft.txt\n\n/minutes/2019/*.pdf\n   #*.pdf\n"
SUB_IGNORE = "private.txt\ndeeper/report*.pdf  \n"
FOUND = [
    "#2 scan.pdf",
    "policy.txt",
    "private.txt",
    "deeper/report.pdf",
    "minutes/2019/2019-02-13.txt",
    "minutes/2020/2020-01-08.pdf",
    "other/private.txt",
    "sub/kept.txt",
    "sub/deeper/summary.pdf",
]


def _tree(root: Path) -> Path:
    for rel, source in TREE.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(corpus_file(source), root / rel)
    return root


def _found(root: Path) -> list[str]:
    found = discover([root])
    assert not found.skipped and not found.missing
    return [p.relative_to(root).as_posix() for p in found.files]


def test_clerkignore_rules_by_name_by_path_and_per_folder(tmp_path: Path) -> None:
    """Name and path globs, a comment and a blank line in the root's file; a nested folder's own file.

    A rule holds in its folder and every folder below it, a path rule is
    relative to the folder of the file that holds it, and a line starting with
    ``#`` is a comment even when it reads like a rule. Folders are walked in
    sorted order, the files of a folder before its subfolders.
    """
    root = _tree(tmp_path / "share")
    assert sorted(_found(root)) == sorted(TREE)  # with no rules, every file is a document
    (root / IGNORE_FILE).write_text(ROOT_IGNORE, encoding="utf-8")
    (root / "sub" / IGNORE_FILE).write_text(SUB_IGNORE, encoding="utf-8")
    assert _found(root) == FOUND


def test_the_bundled_corpus_keeps_its_notes_and_manifest_out() -> None:
    """README.md and HARD_CASES.md would be read as Markdown documents but for the corpus's .clerkignore."""
    found = discover([CORPUS]).files
    names = {p.name for p in found}
    assert not names & {"README.md", "HARD_CASES.md", "MANIFEST.tsv", IGNORE_FILE}
    assert all(p.parent != CORPUS for p in found)  # its top folder holds only those notes
    assert len(found) == 69


def test_without_its_clerkignore_the_corpus_notes_would_be_documents(tmp_path: Path) -> None:
    notes = ["README.md", "HARD_CASES.md", "MANIFEST.tsv"]
    for name in notes:
        shutil.copy2(corpus_file(name), tmp_path / name)
    assert _found(tmp_path) == ["HARD_CASES.md", "README.md"]  # the manifest is never a document
    shutil.copy2(corpus_file(IGNORE_FILE), tmp_path / IGNORE_FILE)
    assert _found(tmp_path) == []
