"""HTML of slide decks: Markdown with math, cell outputs, highlighted code and the reveal.js page.

The page loads reveal.js and MathJax from ``<static>/reveal.js`` and ``<static>/mathjax``,
where ``ml4es.slides`` copies the pinned npm packages, so a deck loads nothing from other hosts.
"""

from __future__ import annotations

import base64
import html
import logging
import mimetypes
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from markdown_it import MarkdownIt
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def favicon_uri() -> str:
    """Return the course's icon (the site's favicon) as a data URI, so that a deck requests no icon file."""
    svg = (resources.files("ml4es") / "static" / "favicon.svg").read_text(encoding="utf-8")
    return "data:image/svg+xml," + quote(svg.strip())

# Output formats, in the order of preference, that a deck shows from one display_data or
# execute_result output. Widget views are left out, because decks have no widget manager.
IMAGE_TYPES = ("image/svg+xml", "image/png", "image/jpeg", "image/gif")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")(?P<src>[^"]+)(")', re.IGNORECASE)
HEADING = re.compile(r"^\s*<h[1-6][\s>]")
DISPLAY_MATH_DELIMITERS = re.compile(r"^\s*(\$\$|\\\[)(?P<body>.*?)(\$\$|\\\])\s*$", re.DOTALL)


def _math(content: str, options: dict) -> str:
    if options.get("display_mode"):
        return html.escape(f"\\[{content}\\]")
    return html.escape(f"\\({content}\\)")


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    """Return the renderer of Markdown with ``$...$``, ``$$...$$`` and amsmath environments."""
    renderer = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    dollarmath_plugin(renderer, renderer=_math)
    amsmath_plugin(renderer, renderer=lambda content: html.escape(f"\\[{content}\\]"))
    return renderer


def markdown_to_html(text: str) -> str:
    """Render Markdown (as ``ml4es.myst.convert`` writes it) to HTML with math for MathJax.

    Math becomes ``\\(...\\)`` or ``\\[...\\]`` inside elements of class ``math``, the only
    elements the deck's MathJax typesets.
    """
    return _markdown().render(text)


def inline_markdown_to_html(text: str) -> str:
    return _markdown().renderInline(text)


def headings(text: str) -> list[tuple[int, str]]:
    """Return the level and Markdown text of each heading in ``text``, in order."""
    tokens = _markdown().parse(text)
    found = []
    for opening, inline in zip(tokens, tokens[1:]):
        if opening.type == "heading_open":
            found.append((int(opening.tag[1:]), inline.content))
    return found


def starts_with_heading(fragment: str) -> bool:
    return bool(HEADING.match(fragment))


def without_math_typesetting(fragment: str) -> str:
    """Turn the math in ``fragment`` into ``$...$`` TeX that MathJax leaves alone, for speaker notes.

    The notes window of reveal.js shows the notes' HTML without MathJax's styles, where typeset
    math would be unreadable.
    """
    fragment = re.sub(r'class="math\b', 'class="tex-source', fragment)
    fragment = re.sub(r'(class="tex-source inline">)\\\((.*?)\\\)<', r"\1$\2$<", fragment, flags=re.DOTALL)
    return re.sub(r'(class="tex-source block">\s*)\\\[(.*?)\\\]', r"\1$$\2$$", fragment, flags=re.DOTALL)


def embed_local_images(fragment: str, source_dir: Path) -> str:
    """Replace ``<img>`` paths relative to the chapter with data URLs, so that the deck needs no other file."""

    def embed(match: re.Match) -> str:
        src = match.group("src")
        if re.match(r"^([a-z][a-z0-9+.-]*:|//|#)", src, re.IGNORECASE):
            return match.group(0)
        path = (source_dir / src).resolve()
        if not path.is_file():
            logger.warning("image %s not found beside the chapter (looked for %s)", src, path)
            return match.group(0)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"{match.group(1)}data:{mime};base64,{data}{match.group(3)}"

    return IMG_SRC.sub(embed, fragment)


def code_to_html(source: str) -> str:
    """Return Python source highlighted with Pygments' inline styles, or escaped if it is missing."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return f'<pre class="code"><code>{html.escape(source)}</code></pre>'
    formatter = HtmlFormatter(noclasses=True, cssclass="code", style="default")
    return highlight(source, PythonLexer(), formatter)


def _join(text) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


def output_to_html(output: dict) -> str:
    """Render one notebook output for a slide; return "" for what a deck does not show.

    Shown: standard output, images, HTML (such as tables), Markdown, LaTeX and plain text.
    Left out: standard error (warnings, progress bars), errors and widget views.
    """
    kind = output.get("output_type")
    if kind == "stream":
        if output.get("name") != "stdout":
            return ""
        text = ANSI_ESCAPE.sub("", _join(output.get("text", "")))
        return f'<pre class="output-text">{html.escape(text.rstrip())}</pre>' if text.strip() else ""
    if kind not in ("display_data", "execute_result"):
        return ""

    data = output.get("data", {})
    if "application/vnd.jupyter.widget-view+json" in data:
        return ""
    for mime in IMAGE_TYPES:
        if mime in data:
            payload = _join(data[mime])
            if mime == "image/svg+xml":
                payload = base64.b64encode(payload.encode("utf-8")).decode("ascii")
            payload = "".join(payload.split())
            return f'<img class="output-image" alt="figure" src="data:{mime};base64,{payload}">'
    if "text/html" in data:
        return f'<div class="output-html">{_join(data["text/html"])}</div>'
    if "text/markdown" in data:
        return f'<div class="output-markdown">{markdown_to_html(_join(data["text/markdown"]))}</div>'
    if "text/latex" in data:
        latex = _join(data["text/latex"]).strip()
        match = DISPLAY_MATH_DELIMITERS.match(latex)
        body = match.group("body") if match else latex.strip("$")
        typeset = html.escape("\\[" + body + "\\]")
        return f'<div class="math output-latex">{typeset}</div>'
    if "text/plain" in data:
        return f'<pre class="output-text">{html.escape(ANSI_ESCAPE.sub("", _join(data["text/plain"])))}</pre>'
    return ""


PAGE_CSS = """
.reveal { font-size: 30px; }
/* MathJax's copy of each formula for screen readers is clipped to nothing but keeps its full
   height, which makes a slide with a tagged equation scroll; the usual visually-hidden size
   keeps it readable to screen readers and out of the layout. */
.reveal mjx-assistive-mml { width: 1px !important; height: 1px !important; }
.reveal .slides section { text-align: left; }
.reveal h1, .reveal h2, .reveal h3, .reveal h4 { text-transform: none; line-height: 1.15; }
.reveal h1 { font-size: 1.9em; text-align: center; }
.reveal h2 { font-size: 1.3em; }
.reveal h3 { font-size: 1.05em; }
.reveal h2.section-title { color: #2a4d7a; }
.reveal p.deck-subtitle { text-align: center; color: #555; font-size: 0.9em; }
.reveal p, .reveal li { line-height: 1.3; }
.reveal ul, .reveal ol { display: block; margin-left: 1.2em; }
.reveal blockquote {
  width: auto; margin: 0.5em 0; padding: 0.4em 0.9em; font-style: normal; text-align: left;
  background: #f2f6fc; border-left: 6px solid #3a6db5; box-shadow: none;
}
.reveal img.output-image, .reveal section img {
  display: block; max-width: 100%; max-height: 520px; margin: 0.3em auto; object-fit: contain;
}
.reveal pre.output-text, .reveal pre.code, .reveal div.code pre {
  width: 100%; box-sizing: border-box; font-size: 0.6em; line-height: 1.3; box-shadow: none; margin: 0.4em 0;
  padding: 0.4em 0.6em; background: #f6f6f6; white-space: pre-wrap; overflow: visible;
}
.reveal table { font-size: 0.62em; margin: 0.4em auto; }
.reveal table th, .reveal table td { padding: 0.2em 0.6em; }
.reveal details summary { cursor: pointer; color: #3a6db5; }
.reveal .math.block, .reveal .output-latex { text-align: center; margin: 0.3em 0; }
.reveal mjx-container[display="true"] { margin: 0.3em 0 !important; }
.deck-footer {
  position: fixed; left: 14px; bottom: 10px; z-index: 10; font-size: 14px; color: #777;
  font-family: "Source Sans Pro", Helvetica, sans-serif;
}
html.print-pdf .deck-footer { display: none; }
"""

# Runs before MathJax loads. Only elements of class "math" are typeset. Once MathJax has
# finished, reveal.js lays the slides out again, because typeset math changes their height.
MATHJAX_CONFIG = """
window.MathJax = {
  tex: { inlineMath: [["\\\\(", "\\\\)"]], displayMath: [["\\\\[", "\\\\]"]] },
  options: { ignoreHtmlClass: "mathjax_ignore", processHtmlClass: "math" },
  startup: {
    pageReady: () => MathJax.startup.defaultPageReady().then(() => {
      if (window.Reveal && Reveal.isReady()) Reveal.layout();
    }),
  },
};
"""

# Left and right arrows step through every slide, vertical ones included. Printing
# (?print-pdf) puts each slide on one page with its fragments shown, and ?show-notes adds the
# speaker notes on a page after each slide.
REVEAL_INIT = """
const query = new URLSearchParams(window.location.search);
Reveal.initialize({
  hash: true,
  navigationMode: "linear",
  slideNumber: "c/t",
  width: 1280,
  height: 720,
  margin: 0.04,
  transition: "none",
  pdfSeparateFragments: false,
  showNotes: query.has("show-notes") ? "separate-page" : false,
  plugins: [RevealNotes],
});
"""


def page(title: str, footer: str, sections: str, static_prefix: str) -> str:
    """Return the HTML page of a deck whose ``sections`` are reveal.js ``<section>`` elements."""
    reveal = f"{static_prefix}/reveal.js/dist"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}: slides</title>
<link rel="icon" href="{favicon_uri()}">
<link rel="stylesheet" href="{reveal}/reset.css">
<link rel="stylesheet" href="{reveal}/reveal.css">
<link rel="stylesheet" href="{reveal}/theme/white.css">
<style>{PAGE_CSS}</style>
<script>{MATHJAX_CONFIG}</script>
<script defer src="{static_prefix}/mathjax/es5/tex-mml-chtml.js"></script>
</head>
<body class="mathjax_ignore">
<div class="reveal">
<div class="slides">
{sections}
</div>
</div>
<div class="deck-footer">{html.escape(footer)}</div>
<script src="{reveal}/reveal.js"></script>
<script src="{reveal}/plugin/notes.js"></script>
<script>{REVEAL_INIT}</script>
</body>
</html>
"""


def index_page(title: str, decks: list[tuple[str, str]]) -> str:
    """Return an HTML page that links every deck, given as (chapter title, relative URL) pairs."""
    items = "\n".join(
        f'<li><a href="{html.escape(url)}">{html.escape(chapter)}</a></li>' for chapter, url in decks
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}: slide decks</title>
<link rel="icon" href="{favicon_uri()}">
<style>body {{ font-family: sans-serif; max-width: 50em; margin: 2em auto; line-height: 1.5; }}</style>
</head>
<body>
<h1>{html.escape(title)}: slide decks</h1>
<p>Arrow keys move between slides, S opens the speaker notes, and F goes full screen.
To print a deck, open it with <code>?print-pdf</code> after <code>.html</code>, or run
<code>python -m ml4es slides --pdf</code>.</p>
<ul>
{items}
</ul>
</body>
</html>
"""
