"""Sphinx extension that writes each script of a page once.

Sphinx 7.4.7 writes an inline script twice when an extension adds it after the builder starts.
``StandaloneHTMLBuilder.prepare_writing`` adds the registry's scripts again, with the file name
``""`` where the first copy has ``None``. The two copies therefore do not compare equal. sphinx-thebe
0.3.1 adds ``const THEBE_JS_URL = ...`` that way, and the second copy raises "Identifier
'THEBE_JS_URL' has already been declared" in the browser console on every page.

This extension drops the later copy of any script whose file name (``None`` and ``""`` alike),
priority and attributes, inline body included, match an earlier one.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def script_key(script: Any) -> tuple:
    """Return what identifies a script: file name (empty for inline ones), priority and attributes."""
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {})
    return (str(filename), getattr(script, "priority", 500), tuple(sorted(attributes.items())))


def unique_scripts(scripts: list) -> list:
    """Return ``scripts`` in their order, without the scripts that repeat an earlier one."""
    seen = set()
    unique = []
    for script in scripts:
        key = script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    return unique


def drop_repeated_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = unique_scripts(context["script_files"])


def setup(app: Sphinx) -> dict:
    # Late, so that the scripts every other extension adds to the page are in the list.
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
