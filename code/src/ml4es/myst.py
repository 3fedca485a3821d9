"""Conversion of MyST markdown (directives and roles) into Markdown that Colab and JupyterLab render.

Jupyter Book renders MyST, but Colab and plain JupyterLab show its directives as code blocks, so
the generated notebooks carry the Markdown produced here. Exercises and admonitions become block
quotes, and dropdowns and instructor solutions become ``<details>`` blocks. Labelled equations get
``\\tag{n}``, citations become "(Author Year)", and the bibliography becomes a list of the works
the chapter cites.
"""

from __future__ import annotations

import logging
import posixpath
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:.-]+)\}[ \t]*(?P<argument>.*)$")
ROLE = re.compile(r"\{(?P<name>[\w:.-]+)\}`(?P<content>[^`]*)`")
TARGET = re.compile(r"^\s*\((?P<label>[^()\s]+)\)=\s*$")
LABELLED_DOLLARMATH = re.compile(r"\$\$(?P<body>.+?)\$\$[ \t]*\((?P<label>[^()\s]+)\)", re.DOTALL)
LINK_TARGET = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
# A Markdown link (not an image) to another page of the book by its source file, such as
# [text](../pinns/heat_equation.md#section), relative to the chapter or, with a leading "/", to the
# book's root. A target with a URL scheme or a leading "//" names another host and does not match.
PAGE_LINK = re.compile(
    r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<path>(?![a-zA-Z][a-zA-Z0-9+.-]*:|//)[^()\s#]+)\.(?:md|ipynb)(?P<anchor>#[^()\s]*)?\)"
)

ADMONITIONS = {
    "note": "Note",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
}


@dataclass
class BibEntry:
    """The parts of a BibTeX entry that a citation and a reference list need."""

    key: str
    fields: dict[str, str]

    @property
    def surnames(self) -> list[str]:
        authors = [name.strip() for name in self.fields.get("author", "").split(" and ") if name.strip()]
        surnames = []
        for author in authors:
            if "," in author:
                surnames.append(author.split(",")[0].strip())
            else:
                surnames.append(author.split()[-1])
        return surnames or [self.key]

    def citation_author(self) -> str:
        names = self.surnames
        if len(names) == 1:
            return names[0]
        if len(names) == 2:
            return f"{names[0]} and {names[1]}"
        return f"{names[0]} et al."

    def year(self) -> str:
        return self.fields.get("year", "n.d.")

    def reference(self) -> str:
        parts = [f"{', '.join(self.surnames)} ({self.year()}). {self.fields.get('title', self.key)}."]
        venue = self.fields.get("journal") or self.fields.get("booktitle") or self.fields.get("publisher")
        if venue:
            details = venue
            if "volume" in self.fields:
                details += f", {self.fields['volume']}"
            if "pages" in self.fields:
                details += f", {self.fields['pages']}"
            parts.append(f"*{details}*.")
        if "doi" in self.fields:
            parts.append(f"[doi:{self.fields['doi']}](https://doi.org/{self.fields['doi']})")
        elif "url" in self.fields:
            parts.append(f"<{self.fields['url']}>")
        return " ".join(parts)


def read_bibtex(path: Path) -> dict[str, BibEntry]:
    """Read the entries of a BibTeX file, enough to format author-year citations."""
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    entries: dict[str, BibEntry] = {}
    for match in re.finditer(r"@\w+\s*\{\s*(?P<key>[^,\s]+)\s*,", text):
        body = _balanced_body(text, match.end())
        fields = {}
        for field_match in re.finditer(r"(?P<name>\w+)\s*=\s*", body):
            value = _field_value(body, field_match.end())
            if value is not None:
                fields.setdefault(field_match.group("name").lower(), value)
        entries[match.group("key")] = BibEntry(match.group("key"), fields)
    return entries


def _balanced_body(text: str, start: int) -> str:
    depth = 1
    for position in range(start, len(text)):
        if text[position] == "{":
            depth += 1
        elif text[position] == "}":
            depth -= 1
            if depth == 0:
                return text[start:position]
    return text[start:]


def _field_value(body: str, start: int) -> str | None:
    if start >= len(body):
        return None
    opener = body[start]
    if opener == "{":
        value = _balanced_body(body, start + 1)
    elif opener == '"':
        end = body.find('"', start + 1)
        value = body[start + 1 : end]
    else:
        value = re.match(r"[^,\s}]*", body[start:]).group(0)
    value = _latex_to_unicode(value)
    value = re.sub(r"[{}]", "", value)
    return re.sub(r"\s+", " ", value).strip()


LATEX_ACCENTS = {"`": "\u0300", "'": "\u0301", "^": "\u0302", '"': "\u0308", "~": "\u0303", "c": "\u0327"}


def _latex_to_unicode(value: str) -> str:
    """Turn LaTeX accents such as ``\\'e`` or ``{\\"o}`` into the accented characters."""

    def accent(match: re.Match) -> str:
        return unicodedata.normalize("NFC", match.group("letter") + LATEX_ACCENTS[match.group("accent")])

    value = re.sub(r"\{?\\(?P<accent>[`'^\"~])\{?(?P<letter>[A-Za-z])\}?\}?", accent, value)
    value = re.sub(r"\{?\\(?P<accent>c)\{(?P<letter>[A-Za-z])\}\}?", accent, value)
    return value.replace("\\&", "&").replace("--", "–")


@dataclass
class Context:
    """Conversion state of one chapter: URLs, bibliography, and the numbers given to labels.

    ``site_url`` is the URL of the site's root that links to other pages start from: the
    published site for notebooks, or a relative path such as ``../..`` for a slide deck.
    """

    site_url: str = ""
    raw_url: str = ""
    source_dir: str = ""
    bibliography: dict[str, BibEntry] = field(default_factory=dict)
    instructor: bool = False
    equation_numbers: dict[str, int] = field(default_factory=dict)
    exercise_numbers: dict[str, int] = field(default_factory=dict)
    exercise_count: int = 0
    cited: list[str] = field(default_factory=list)
    page_titles: dict[str, str] = field(default_factory=dict)
    """Title of each page, by document name from the book's root, for ``{doc}`` links without text."""


@dataclass
class Directive:
    """One fenced MyST directive: its name, argument, options and body."""

    name: str
    argument: str
    options: dict[str, str]
    body: str


def number_labels(markdown_cells: list[str], context: Context) -> None:
    """Number the labelled equations and exercises of a chapter, in reading order."""
    for text in markdown_cells:
        for directive in _directives(text):
            label = directive.options.get("label")
            if directive.name == "math" and label:
                context.equation_numbers[label] = len(context.equation_numbers) + 1
            if directive.name == "exercise":
                context.exercise_count += 1
                if label:
                    context.exercise_numbers[label] = context.exercise_count
        for match in LABELLED_DOLLARMATH.finditer(text):
            context.equation_numbers[match.group("label")] = len(context.equation_numbers) + 1
        # The bibliography lists every work the chapter cites, also those cited after it
        # or later in the same cell.
        for match in ROLE.finditer(text):
            if match.group("name").startswith("cite"):
                for key in _split_target(match.group("content"))[1].split(","):
                    if key.strip() and key.strip() not in context.cited:
                        context.cited.append(key.strip())
    context.exercise_count = 0


def _directives(text: str):
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        end = _closing_line(lines, index, match.group("fence"))
        directive = _parse_directive(match, lines[index + 1 : end])
        yield directive
        yield from _directives(directive.body)
        index = end + 1


def _closing_line(lines: list[str], start: int, fence: str) -> int:
    character, length = fence[0], len(fence)
    closing = re.compile(rf"^[ \t]*{re.escape(character)}{{{length},}}[ \t]*$")
    for index in range(start + 1, len(lines)):
        if closing.match(lines[index]):
            return index
    return len(lines)


def _parse_directive(match: re.Match, body_lines: list[str]) -> Directive:
    options: dict[str, str] = {}
    indent = match.group("indent")
    body_lines = [line[len(indent) :] if line.startswith(indent) else line for line in body_lines]

    if body_lines and body_lines[0].strip() == "---":
        end = next((i for i in range(1, len(body_lines)) if body_lines[i].strip() == "---"), 0)
        for line in body_lines[1:end]:
            key, _, value = line.partition(":")
            options[key.strip()] = value.strip()
        body_lines = body_lines[end + 1 :]
    else:
        while body_lines and re.match(r"^:[\w-]+:", body_lines[0]):
            key, _, value = body_lines.pop(0)[1:].partition(":")
            options[key.strip()] = value.strip()

    body = "\n".join(body_lines).strip("\n")
    return Directive(match.group("name"), match.group("argument").strip(), options, body)


def convert(text: str, context: Context) -> str:
    """Convert the MyST markdown of one cell to plain Markdown with inline HTML."""
    lines = text.splitlines()
    output: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        match = FENCE.match(line)
        if match:
            end = _closing_line(lines, index, match.group("fence"))
            directive = _parse_directive(match, lines[index + 1 : end])
            output.append(_render_directive(directive, context))
            index = end + 1
            continue
        if TARGET.match(line) or line.lstrip().startswith("% "):
            index += 1
            continue
        output.append(line)
        index += 1

    result = "\n".join(output)
    result = LABELLED_DOLLARMATH.sub(lambda m: _tagged_math(m.group("body"), m.group("label"), context), result)
    result = ROLE.sub(lambda m: _render_role(m.group("name"), m.group("content"), context), result)
    result = PAGE_LINK.sub(lambda m: _page_link(m, context), result)
    return re.sub(r"\n{3,}", "\n\n", result).strip("\n")


def _page_link(match: re.Match, context: Context) -> str:
    """Point a link to a page's source file at that page on the site, or drop the link without a site."""
    if not context.site_url:
        return match.group("text")
    url = page_url(match.group("path"), context) + (match.group("anchor") or "")
    return f"[{match.group('text')}]({url})"


def page_url(target: str, context: Context) -> str:
    """Return the site URL of the page ``target``, a document name relative to the chapter or to the root with "/"."""
    return f"{context.site_url.rstrip('/')}/{_page_path(target, context)}.html"


def _tagged_math(body: str, label: str, context: Context) -> str:
    number = context.equation_numbers.get(label)
    tag = f" \\tag{{{number}}}" if number else ""
    return f"$${body.strip()}{tag}$$"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())


def _render_directive(directive: Directive, context: Context) -> str:
    renderer = _RENDERERS.get(directive.name)
    if renderer is not None:
        return renderer(directive, context)
    if directive.name in ADMONITIONS:
        return _admonition(ADMONITIONS[directive.name], directive, context)

    logger.warning("no Colab rendering for MyST directive {%s}; showing it as a quote", directive.name)
    return _quote(convert(directive.body, context))


def _admonition(title: str, directive: Directive, context: Context) -> str:
    body = convert(directive.body, context)
    return _quote(f"**{title}**\n\n{body}")


def _render_exercise(directive: Directive, context: Context) -> str:
    context.exercise_count += 1
    title = f"Exercise {context.exercise_count}"
    if directive.argument:
        title += f": {directive.argument}"
    return _quote(f"**{title}**\n\n{convert(directive.body, context)}")


def _render_solution(directive: Directive, context: Context) -> str:
    if not context.instructor:
        return ""
    return _details("Solution", convert(directive.body, context))


def _details(summary: str, body: str) -> str:
    return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"


def _render_dropdown(directive: Directive, context: Context) -> str:
    return _details(directive.argument or "Details", convert(directive.body, context))


def _render_generic_admonition(directive: Directive, context: Context) -> str:
    return _admonition(directive.argument or "Note", directive, context)


def _render_math(directive: Directive, context: Context) -> str:
    body = directive.body.strip()
    if "\\\\" in body and "\\begin" not in body:
        body = f"\\begin{{aligned}}\n{body}\n\\end{{aligned}}"
    label = directive.options.get("label")
    number = context.equation_numbers.get(label) if label else None
    tag = f"\n\\tag{{{number}}}" if number else ""
    return f"$$\n{body}{tag}\n$$"


def _render_figure(directive: Directive, context: Context) -> str:
    url = _resolve_path(directive.argument, context)
    alt = directive.options.get("alt", "figure")
    width = directive.options.get("width")
    size = f' width="{width}"' if width else ""
    image = f'<img src="{url}" alt="{alt}"{size}>'
    if directive.name == "image" or not directive.body:
        return image
    return f"{image}\n\n*{convert(directive.body, context)}*"


def _resolve_path(path: str, context: Context) -> str:
    if re.match(r"^[a-z]+://", path) or not context.raw_url:
        return path
    relative = (Path(context.source_dir) / path).as_posix()
    return f"{context.raw_url.rstrip('/')}/{relative}"


def _render_code(directive: Directive, context: Context) -> str:
    return f"```{directive.argument}\n{directive.body}\n```"


def _render_bibliography(directive: Directive, context: Context) -> str:
    if not context.cited:
        return ""
    items = []
    for key in context.cited:
        entry = context.bibliography.get(key)
        items.append(f"- {entry.reference() if entry else key}")
    return "\n".join(items)


_RENDERERS: dict[str, Callable[[Directive, Context], str]] = {
    "exercise": _render_exercise,
    "solution": _render_solution,
    "dropdown": _render_dropdown,
    "admonition": _render_generic_admonition,
    "math": _render_math,
    "figure": _render_figure,
    "image": _render_figure,
    "code-block": _render_code,
    "code": _render_code,
    "bibliography": _render_bibliography,
}


def _render_role(name: str, content: str, context: Context) -> str:
    text, target = _split_target(content)
    if name == "math":
        return f"${content}$"
    if name in ("eq",):
        number = context.equation_numbers.get(target)
        return f"({number})" if number else f"({target})"
    if name.startswith("cite"):
        return _citation(name, target, context)
    if name == "doc":
        url = page_url(target, context) if context.site_url else ""
        label = text or context.page_titles.get(_page_path(target, context)) or Path(target).name.replace("_", " ")
        return f"[{label}]({url})" if url else label
    if name in ("ref", "numref"):
        if text:
            return text
        if target in context.exercise_numbers:
            return f"Exercise {context.exercise_numbers[target]}"
        return target.replace("-", " ")
    return text or target


def _split_target(content: str) -> tuple[str, str]:
    match = LINK_TARGET.match(content)
    if match:
        return match.group("text").strip(), match.group("target").strip()
    return "", content.strip()


def read_page_titles(root: Path) -> dict[str, str]:
    """Return the title (first level-1 heading) of every MyST page under ``root / "book"``, by document name.

    Document names are relative to ``root``, without the suffix, as in ``book/pinns/heat_equation``.
    Front matter and fenced code are skipped, so comments in code cells are never taken for titles.
    """
    titles = {}
    for path in sorted((root / "book").rglob("*.md")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        title = _first_heading(path.read_text(encoding="utf-8"))
        if title:
            titles[path.relative_to(root).with_suffix("").as_posix()] = title
    return titles


def _first_heading(text: str) -> str:
    lines = text.splitlines()
    start = 0
    if lines and lines[0].strip() == "---":
        closing = next((number for number, line in enumerate(lines[1:], start=1) if line.strip() == "---"), None)
        start = closing + 1 if closing is not None else 0
    fence = ""
    for line in lines[start:]:
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence):
                fence = ""
            continue
        if stripped.startswith(("```", ":::")):
            fence = stripped[:3]
            continue
        if line.startswith("# "):
            return line[2:].strip()
    return ""


def _page_path(target: str, context: Context) -> str:
    """Return the document name of ``target`` from the book's root, with "." and ".." resolved."""
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(context.source_dir, target))


def _citation(role: str, content: str, context: Context) -> str:
    keys = [key.strip() for key in content.split(",") if key.strip()]
    narrative = role in ("cite:t", "cite:ts")
    parts = []
    for key in keys:
        if key not in context.cited:
            context.cited.append(key)
        entry = context.bibliography.get(key)
        if entry is None:
            parts.append(key)
        elif narrative:
            parts.append(f"{entry.citation_author()} ({entry.year()})")
        else:
            parts.append(f"{entry.citation_author()} {entry.year()}")
    if narrative:
        return ", ".join(parts)
    return f"({'; '.join(parts)})"
