"""Sphinx extension that restarts figure, table, equation and exercise numbers in every document.

Without a numbered toctree, Sphinx's TocTreeCollector numbers each enumerable type with one
counter for the whole book, so the fifth exercise of the book is "Exercise 5" even when it is the
first exercise of its chapter. Each chapter's student notebook and checkers count from 1, so this
extension renumbers ``env.toc_fignumbers`` per document after the collector has run, keeping the
order. Every consumer of that table reads the new numbers: captions, ``{numref}``, ``{eq}``, the
equation labels and sphinx-exercise's titles and references, which all take the number from the
target document's entry.

For section-numbered toctrees the collector's numbers carry a section prefix, as in (2, 3); only
the last part restarts, counted separately for each prefix.
"""

from __future__ import annotations

import copy

from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

Numbers = dict[str, dict[str, dict[str, tuple[int, ...]]]]
"""``env.toc_fignumbers``: document -> figure type -> node id -> number."""

COLLECTOR_PRIORITY = 500
"""The priority of TocTreeCollector's ``env-get-updated`` handler (Sphinx's default)."""

BOOK_WIDE_NUMBERS = "ml4es_book_wide_fignumbers"
"""Environment attribute that stores the collector's own numbers between builds."""

PREVIOUS_NUMBERS = "ml4es_previous_fignumbers"
"""Environment attribute that contains the last build's restarted numbers while the collector runs."""


def restart_numbers(numbers: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Return the numbers of one figure type in one document, restarted at 1 in the same order.

    ``numbers`` maps node ids to the collector's number tuples. Ids that share a section prefix
    (everything but the last part) are numbered 1, 2, ... in the order of their old numbers.
    """
    counters: dict[tuple[int, ...], int] = {}
    restarted = {}
    for node_id, number in sorted(numbers.items(), key=lambda item: item[1]):
        prefix = number[:-1]
        counters[prefix] = counters.get(prefix, 0) + 1
        restarted[node_id] = (*prefix, counters[prefix])
    return restarted


def restore_book_wide_numbers(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Put back the collector's numbers from the last build before the collector runs again.

    The collector marks for rewriting every document whose numbers differ from the ones in
    ``env.toc_fignumbers``. Comparing its fresh numbers with its own old ones, not with the
    restarted ones, keeps it from marking every document on every incremental build.
    """
    setattr(env, PREVIOUS_NUMBERS, env.toc_fignumbers)
    env.toc_fignumbers = getattr(env, BOOK_WIDE_NUMBERS, {})
    return []


def number_per_document(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Restart every figure type's numbers in each document and return the documents to write again."""
    book_wide: Numbers = env.toc_fignumbers
    setattr(env, BOOK_WIDE_NUMBERS, copy.deepcopy(book_wide))

    previous: Numbers = env.__dict__.pop(PREVIOUS_NUMBERS, {})
    env.toc_fignumbers = {
        docname: {figtype: restart_numbers(numbers) for figtype, numbers in figtypes.items()}
        for docname, figtypes in book_wide.items()
    }

    changed = {docname for docname, figtypes in env.toc_fignumbers.items() if figtypes != previous.get(docname)}
    # A document that lost all its numbered nodes was read again, so it is written anyway.
    return sorted(changed | referring_documents(env, changed))


def referring_documents(env: BuildEnvironment, targets: set[str]) -> set[str]:
    """Return the documents with a cross-reference to a label or equation in one of ``targets``.

    Their text shows the target's number ("Exercise 2", "(3)"), so they must be written again when
    those numbers change. Sphinx's own collector rewrites only the documents whose numbers
    changed, which with one counter for the book happened to include most referring documents.
    """
    if not targets:
        return set()
    std = env.get_domain("std")
    label_documents = {label: entry[0] for label, entry in std.anonlabels.items()}
    label_documents.update({label: entry[0] for label, entry in std.labels.items()})
    equation_documents = {label: entry[0] for label, entry in env.get_domain("math").equations.items()}

    referring = set()
    for docname in env.all_docs:
        if docname in targets:
            continue
        for reference in env.get_doctree(docname).findall(addnodes.pending_xref):
            target = reference.get("reftarget", "")
            documents = {label_documents.get(target.lower()), equation_documents.get(target)}
            if documents & targets:
                referring.add(docname)
                break
    return referring


def setup(app: Sphinx) -> dict:
    app.connect("env-get-updated", restore_book_wide_numbers, priority=COLLECTOR_PRIORITY - 100)
    app.connect("env-get-updated", number_per_document, priority=COLLECTOR_PRIORITY + 100)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
