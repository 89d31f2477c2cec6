"""The deviations page keeps up with the code: every documented deviation has its place in it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import kfit.callbacks

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "differences-from-keras.md"


def _callbacks_with_differences() -> list[str]:
    """Exported callback classes whose docstring has a "Differences from Keras" paragraph."""
    names = []
    for name in kfit.callbacks.__all__:
        obj = getattr(kfit.callbacks, name)
        if inspect.isclass(obj) and "Differences from Keras" in (
            inspect.getdoc(obj) or ""
        ):
            names.append(name)
    return names


def _headings(text: str) -> list[str]:
    return [
        line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")
    ]


def _anchor(heading: str) -> str:
    # GitHub's rule: lower case, punctuation dropped, spaces become hyphens.
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_doc_exists_and_is_linked_from_readme() -> None:
    assert DOC.is_file()
    assert "docs/differences-from-keras.md" in (ROOT / "README.md").read_text(
        encoding="utf-8"
    )


def test_every_callback_with_differences_has_a_section() -> None:
    names = _callbacks_with_differences()
    # Guards against the scan silently finding nothing (e.g. a reworded paragraph title).
    assert {
        "ModelCheckpoint",
        "BackupAndRestore",
        "TensorBoard",
        "TerminateOnNaN",
    } <= set(names)
    headings = set(_headings(DOC.read_text(encoding="utf-8")))
    missing = [name for name in names if name not in headings]
    assert not missing, f"add a '### <name>' section to {DOC.name} for: {missing}"


def test_internal_links_point_to_headings() -> None:
    text = DOC.read_text(encoding="utf-8")
    anchors = {_anchor(h) for h in _headings(text)}
    targets = re.findall(r"\]\(#([^)]+)\)", text)
    assert targets
    assert sorted(set(targets) - anchors) == []
