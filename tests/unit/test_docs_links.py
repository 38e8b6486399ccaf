"""The docs are self-contained: no file points outside the repository, every relative link in
README and docs/ resolves, and every rule code cited anywhere is defined in docs/time-model.md."""

from __future__ import annotations

import io
import re
import subprocess
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIME_MODEL = ROOT / "docs" / "time-model.md"
# Built from parts so that this file does not mention what it looks for.
OUTSIDE_SPEC = ".." + "/shared"
# Folders that are not part of the project when git cannot list the tracked files.
UNTRACKED_DIRS = {".git", ".venv", ".cache", "dist", "build", "node_modules", "__pycache__"}

RULE = re.compile(r"\b[WHPBRT][1-9]\b")
DEFINITION = re.compile(r"^- \*\*([WHPBRT][1-9])\.", re.MULTILINE)
# A rule in a test name: ``test_p1_beacon`` (lower case between underscores).
RULE_IN_NAME = re.compile(r"(?:^|_)([whpbrt][1-9])(?=_|$)")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def tracked_files() -> list[Path]:
    """Files git tracks, plus new ones it does not ignore (a file not yet added counts too)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return [
            path
            for path in ROOT.rglob("*")
            if path.is_file()
            and not UNTRACKED_DIRS.intersection(path.relative_to(ROOT).parts)
            and not any(part.endswith(".egg-info") for part in path.parts)
        ]
    return [ROOT / name for name in out.split("\0") if name and (ROOT / name).is_file()]


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None  # binary (screenshots)
    return data.decode("utf-8", errors="replace")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def prose(markdown: str) -> str:
    """The text outside code: a link-like snippet inside a code block is not a link."""
    return INLINE_CODE.sub("", FENCE.sub("", markdown))


def anchors(markdown: str) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces become hyphens."""
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", FENCE.sub("", markdown), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug)
    return found


def defined_rules() -> list[str]:
    return DEFINITION.findall(TIME_MODEL.read_text(encoding="utf-8"))


def python_citations(source: str) -> Iterator[str]:
    """Rule codes in comments, strings (docstrings) and test names of a Python file."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.STRING):
            yield from RULE.findall(token.string)
        elif token.type == tokenize.NAME and token.string.startswith("test_"):
            yield from (code.upper() for code in RULE_IN_NAME.findall(token.string))


def cited_rules() -> dict[str, set[str]]:
    """Rule code -> the files that cite it (code in tests/, tracker/, web/; README, docs)."""
    cited: dict[str, set[str]] = {}
    for path in tracked_files():
        rel = path.relative_to(ROOT)
        if rel.parts[0] not in {"tests", "tracker", "web", "docs"} and rel.name != "README.md":
            continue
        text = text_of(path)
        if text is None or path == TIME_MODEL:
            continue
        if path.suffix == ".py":
            codes: list[str] = list(python_citations(text))
        elif path.suffix in {".js", ".mjs", ".md"}:
            codes = RULE.findall(text)
        else:
            continue
        for code in codes:
            cited.setdefault(code, set()).add(str(rel))
    return cited


def test_no_file_refers_to_a_spec_outside_the_repository() -> None:
    offenders = []
    for path in tracked_files():
        text = text_of(path)
        if text is not None and OUTSIDE_SPEC in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_tracked_files_include_the_docs() -> None:
    """Guards the scan above: an empty file list would make it pass vacuously."""
    names = {str(path.relative_to(ROOT)) for path in tracked_files()}
    assert {"README.md", "docs/api.md", "docs/protocol.md", "docs/time-model.md"} <= names


@pytest.mark.parametrize("doc", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    broken = []
    for target in LINK.findall(prose(doc.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, fragment = target.partition("#")
        resolved = (doc.parent / path_part).resolve() if path_part else doc
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif (
            fragment
            and resolved.suffix == ".md"
            and fragment not in anchors(resolved.read_text(encoding="utf-8"))
        ):
            broken.append(f"{target}: no heading #{fragment}")
    assert broken == []


def test_the_spec_docs_are_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("docs/api.md", "docs/protocol.md", "docs/time-model.md"):
        assert f"]({name})" in readme, name


def test_time_model_defines_each_rule_once_and_as_the_readme_lists_them() -> None:
    rules = defined_rules()
    assert len(rules) == len(set(rules)), rules
    # README: "(W1–W7, H1–H3, P1–P3, B1–B2, R1–R2, T1–T3)"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ranges = re.findall(r"\b([WHPBRT])1–\1([1-9])\b", readme)
    listed = {f"{letter}{n}" for letter, last in ranges for n in range(1, int(last) + 1)}
    assert len(ranges) == 6
    assert set(rules) == listed


def test_every_cited_rule_is_defined_in_the_time_model() -> None:
    cited = cited_rules()
    assert len(cited) > 10  # the scan found the citations at all
    undefined = {code: sorted(files) for code, files in cited.items()}
    for code in defined_rules():
        undefined.pop(code, None)
    assert undefined == {}


def test_citation_scan_reads_comments_strings_and_test_names() -> None:
    source = (
        "# W5 in a comment\n"
        'def test_p1_beacon() -> None:\n    """H2 in a docstring."""\n'
        'STAMP = "2026-01-27T10:00:00.000Z"\n'
    )
    assert sorted(python_citations(source)) == ["H2", "P1", "W5"]
