"""No sentence of the API's reference pages is in the project: its facts are (paths, fields, types, codes,
example values), its words are not. Only the seed pages (``spec/pages``, the project's origin) may be
quoted. A sentence is a run of six words or more of a page's paragraphs; examples (code blocks) are
facts and are not read as prose."""

import re
import subprocess
from pathlib import Path

import docutils.core
import docutils.nodes

import cloud_backup_mock.builder.docs_page  # noqa: F401 - registers the Sphinx roles the pages use
from cloud_backup_mock.shipped import SPEC_DIR

REPO = Path(__file__).resolve().parent.parent
MIN_WORDS = 6


def sentences(text: str) -> set[str]:
    tree = docutils.core.publish_doctree(text, settings_overrides={"report_level": 5, "halt_level": 5})
    found = set()
    for paragraph in tree.findall(docutils.nodes.paragraph):
        for sentence in re.split(r"(?<=[.!?:])\s+", " ".join(paragraph.astext().split())):
            if len(sentence.split()) >= MIN_WORDS:
                found.add(sentence)
    return found


def test_sentences_are_found_in_a_page():
    page = "Title\n=====\n\nThe widget is made of parts. Short one.\n\n.. code::\n\n   {\"a\": \"Not prose at all, an example value.\"}\n"
    assert sentences(page) == {"The widget is made of parts."}


def test_no_sentence_of_the_reference_pages_is_in_the_project(api_reference_dir):
    shared = api_reference_dir.parent.parent
    quoted = set()
    for seed in [*(shared / "seeds").glob("*"), *(SPEC_DIR / "pages").glob("*.rst")]:
        quoted |= sentences(seed.read_text(encoding="utf-8"))
    theirs = set()
    for page in (shared / "reference").rglob("*.rst"):
        theirs |= sentences(page.read_text(encoding="utf-8"))
    theirs -= quoted
    assert len(theirs) > 500  # the pages were read
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True,
                             check=True).stdout.split()
    copied = []
    for name in tracked:
        if name.startswith("spec/pages/"):
            continue
        try:
            text = " ".join((REPO / name).read_text(encoding="utf-8").split())
        except (UnicodeDecodeError, OSError):
            continue
        copied += [f"{name}: {sentence}" for sentence in theirs if sentence in text]
    assert copied == []
