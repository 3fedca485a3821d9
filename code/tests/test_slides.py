"""Tests of the slide decks.

The builder is tested on a small chapter written here, with made-up outputs. The tests marked
``book`` read the decks of a built site (``make book``), and those marked ``browser`` also open
them in headless Chromium with no network, as ``test_site.py`` does for the site's pages.
"""

from __future__ import annotations

import base64
import html.parser
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import jupytext
import nbformat
import pytest

from ml4es import notebooks, slides
from test_site import BOOK_ROOT, CHROMIUM, SCREENSHOT_DIR, SiteVisitor

HEADER = """\
---
jupytext:
  formats: ipynb,md:myst
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
    jupytext_version: 1.19.6
kernelspec:
  display_name: Python 3 (ipykernel)
  language: python
  name: python3
---
"""

CHAPTER = HEADER + textwrap.dedent(
    """
    +++ {"slideshow": {"slide_type": "slide"}}

    # A demonstration deck

    +++ {"slideshow": {"slide_type": "notes"}}

    Greet the class; the speed is $v$.

    +++

    Text that stays on the website.

    +++ {"slideshow": {"slide_type": "slide"}}

    ## Theory

    ```{math}
    :label: demo-heat
    u_t = \\alpha u_{xx}
    ```

    +++ {"slideshow": {"slide_type": "fragment"}}

    Equation {eq}`demo-heat` is old {cite:p}`smith2020`.

    +++ {"slideshow": {"slide_type": "-"}}

    It joins the fragment. See {doc}`../other/page` and [the notes](notes.md#top).

    ```{code-cell} ipython3
    ---
    slideshow:
      slide_type: slide
    ---
    show_the_figure()
    ```

    ```{code-cell} ipython3
    ---
    slideshow:
      slide_type: subslide
    tags: [slide-show-code]
    ---
    def scale(values):
        factor = 2.0  # SOLUTION
        # BEGIN SOLUTION
        scaled_values = [factor * value for value in values]
        return scaled_values
        # END SOLUTION
    ```

    +++ {"slideshow": {"slide_type": "slide"}}

    :::{exercise} Add two numbers
    :label: demo-add

    Write `add(a, b)` that returns $a + b$.
    :::

    ```{code-cell} ipython3
    def add(a, b):
        raise NotImplementedError
    ```

    ```{code-cell} ipython3
    ---
    slideshow:
      slide_type: slide
    tags: [solution, hide-input]
    ---
    def add(a, b):
        total_of_both = a + b
        return total_of_both
    ```

    +++ {"slideshow": {"slide_type": "-"}}

    :::{solution} demo-add
    :class: dropdown

    Because addition is built into Python.
    :::

    +++ {"slideshow": {"slide_type": "skip"}}

    Skipped text.
    """
)

BIBLIOGRAPHY = "@article{smith2020, author = {Smith, Jane}, title = {Heat}, journal = {J}, year = {2020}}\n"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nnot really an image").decode("ascii")
CONFIG = "title: Demo course\nrepository:\n  url: https://github.com/example-org/example-course\n"
TOC = "format: jb-book\nroot: book/intro\nparts:\n  - caption: Demo\n    chapters:\n      - file: book/demo/deck\n"


class SlideCounter(html.parser.HTMLParser):
    """Counts reveal.js slides in a deck: ``<section>`` elements with no ``<section>`` inside."""

    def __init__(self) -> None:
        super().__init__()
        self.open_sections: list[bool] = []
        self.slides = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "section":
            if self.open_sections:
                self.open_sections[-1] = True
            self.open_sections.append(False)

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            has_children = self.open_sections.pop()
            if not has_children:
                self.slides += 1


class TextExtractor(html.parser.HTMLParser):
    """Collects the text of a deck that a reader can see: everything but scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.skipping = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style"):
            self.skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def count_slides(page: str) -> int:
    counter = SlideCounter()
    counter.feed(page)
    return counter.slides


def visible_text(page: str) -> str:
    extractor = TextExtractor()
    extractor.feed(page)
    return "".join(extractor.parts)


def executed(chapter: Path) -> nbformat.NotebookNode:
    """Read a chapter as the book build would leave it, with made-up outputs on its code cells."""
    notebook = jupytext.read(chapter)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if "show_the_figure" in cell.source:
            cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]
        elif "total_of_both" in cell.source:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="solution output\n")]
        else:
            cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="a warning\n")]
    return notebook


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A one-chapter book under tmp_path, with the chapter's executed notebook and fake npm packages."""
    (tmp_path / "_config.yml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "_toc.yml").write_text(TOC, encoding="utf-8")
    chapter = tmp_path / "book" / "demo" / "deck.md"
    chapter.parent.mkdir(parents=True)
    chapter.write_text(CHAPTER, encoding="utf-8")
    (tmp_path / "book" / "intro.md").write_text("# Introduction\n", encoding="utf-8")
    (tmp_path / "book" / "references.bib").write_text(BIBLIOGRAPHY, encoding="utf-8")
    for package, file in (("reveal.js", "dist/reveal.js"), ("mathjax", "es5/tex-mml-chtml.js")):
        asset = tmp_path / "_build" / "assets" / "npm" / package / file
        asset.parent.mkdir(parents=True)
        asset.write_text("// placeholder\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def deck(book: Path) -> slides.Deck:
    chapter = book / "book" / "demo" / "deck.md"
    return slides.build_deck(executed(chapter), notebooks.read_settings(book), chapter, course_title="Demo course")


def sections(deck_html: str) -> list[str]:
    return re.findall(r"<section>\n(?!<section>)(.*?)\n</section>", deck_html, re.DOTALL)


# The deck builder, on the demonstration chapter.


def test_deck_slide_structure(deck):
    assert [len(stack) for stack in deck.stacks] == [1, 1, 2, 1]
    assert deck.slide_count == 5
    assert count_slides(deck.html) == 5


def test_deck_leaves_out_unmarked_cells(deck):
    assert "Text that stays on the website" not in deck.html
    assert "Skipped text" not in deck.html
    assert "a warning" not in deck.html


def test_deck_leaves_out_solutions(deck, book):
    text = visible_text(deck.html)

    assert "total_of_both" not in text
    assert "solution output" not in text
    assert "Because addition" not in text
    assert "scaled_values" not in text
    assert "SOLUTION" not in text
    assert notebooks.solution_leaks(deck.notebook, book / "book" / "demo" / "deck.md") == []


def test_deck_hides_code_unless_tagged(deck):
    text = visible_text(deck.html)

    assert "show_the_figure" not in text
    assert "def scale(values):" in text
    assert "factor = ..." in text


def test_deck_shows_figure_output(deck):
    assert f'src="data:image/png;base64,{PNG}"' in deck.html


def test_deck_renders_myst(deck):
    text = visible_text(deck.html)

    assert "\\[u_t = \\alpha u_{xx}\n\\tag{1}\\]" in text
    assert "Equation (1) is old (Smith 2020)." in text
    assert "Exercise 1: Add two numbers" in text
    assert '<span class="math inline">\\(a + b\\)</span>' in deck.html
    assert "{exercise}" not in text
    assert ":::" not in text


def test_deck_links_pages_relative_to_deck(deck):
    # The deck lies at slides/demo/deck.html, two folders below the site's root.
    assert '<a href="../../book/other/page.html">page</a>' in deck.html
    assert '<a href="../../book/demo/notes.html#top">the notes</a>' in deck.html
    assert ".md" not in "".join(re.findall(r'href="([^"]+)"', deck.html))


def test_deck_fragment_joins_following_cell(deck):
    fragments = re.findall(r'<div class="fragment">\n(.*?)\n</div>', deck.html, re.DOTALL)

    assert len(fragments) == 1
    assert "Equation (1)" in fragments[0]
    assert "It joins the fragment." in fragments[0]


def test_deck_speaker_notes(deck):
    notes = re.findall(r'<aside class="notes">\n(.*?)\n</aside>', deck.html, re.DOTALL)

    assert len(notes) == 1
    assert "Greet the class" in notes[0]
    assert '<span class="tex-source inline">$v$</span>' in notes[0], "math in notes must stay as TeX"


def test_deck_slide_without_heading_gets_section_title(deck):
    figure_slide = next(section for section in sections(deck.html) if "data:image/png" in section)

    assert figure_slide.startswith('<h2 class="section-title">Theory</h2>')


def test_deck_title_and_footer(deck):
    assert deck.title == "A demonstration deck"
    assert "<title>A demonstration deck: slides</title>" in deck.html
    assert "Demo course: A demonstration deck" in deck.html


def test_deck_loads_only_local_files(deck):
    sources = re.findall(r'(?:src|href)="([^"]+)"', deck.html)

    assert sources, "the deck loads no scripts or style sheets"
    outside = [source for source in sources if re.match(r"^(https?:)?//", source)]
    assert outside == []


def test_deck_inlines_favicon(deck):
    icons = re.findall(r'<link rel="icon" href="([^"]+)">', deck.html)
    assert len(icons) == 1
    assert icons[0].startswith("data:image/svg+xml,")


def test_invalid_slide_type_rejected():
    cell = nbformat.v4.new_markdown_cell("text", metadata={"slideshow": {"slide_type": "next"}})

    with pytest.raises(ValueError, match="invalid slideshow.slide_type 'next'"):
        slides.slide_type(cell)


def test_deck_relative_path():
    assert str(slides.deck_relative_path("book/pinns/heat_equation")) == "slides/pinns/heat_equation.html"
    assert str(slides.deck_relative_path("other/page")) == "slides/other/page.html"
    with pytest.raises(ValueError):
        slides.deck_relative_path("book")


def test_write_decks(book):
    executed_dir = book / "_build" / "jupyter_execute" / "book" / "demo"
    executed_dir.mkdir(parents=True)
    nbformat.write(executed(book / "book" / "demo" / "deck.md"), executed_dir / "deck.ipynb")

    written = slides.write_decks(book)

    deck_file = book / "_build" / "html" / "slides" / "demo" / "deck.html"
    assert written == [deck_file]
    page = deck_file.read_text(encoding="utf-8")
    assert 'src="../_static/reveal.js/dist/reveal.js"' in page
    assert 'src="../_static/mathjax/es5/tex-mml-chtml.js"' in page
    assert (book / "_build" / "html" / "slides" / "_static" / "reveal.js" / "dist" / "reveal.js").is_file()
    index = (book / "_build" / "html" / "slides" / "index.html").read_text(encoding="utf-8")
    assert '<a href="demo/deck.html">A demonstration deck</a>' in index


def test_write_decks_needs_executed_notebooks(book):
    with pytest.raises(FileNotFoundError, match="make book"):
        slides.write_decks(book)


def test_write_decks_rejects_unknown_chapter(book):
    with pytest.raises(ValueError, match="book/demo/other"):
        slides.write_decks(book, documents=["book/demo/other"])


def test_slides_command_reports_missing_build(book):
    result = subprocess.run(
        [sys.executable, "-m", "ml4es", "slides", "--root", str(book)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert "make book" in result.stderr
    assert "Traceback" not in result.stderr


def test_slides_command_help():
    result = subprocess.run(
        [sys.executable, "-m", "ml4es", "slides", "--help"], capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0
    assert "--pdf" in result.stdout
    assert "--notes" in result.stdout


# The decks of the built book.

CHAPTERS = slides.chapter_documents(BOOK_ROOT) if (BOOK_ROOT / "_toc.yml").is_file() else []
DECK_URL = "slides/pinns/heat_equation.html"


def deck_file(site: Path, chapter: str) -> Path:
    return site / slides.deck_relative_path(chapter)


@pytest.mark.book
def test_every_chapter_listed():
    assert "book/pinns/heat_equation" in CHAPTERS


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_deck_has_slides(site_dir, chapter):
    path = deck_file(site_dir, chapter)

    assert path.is_file(), f"no deck {path} for {chapter}: run `make slides`"
    count = count_slides(path.read_text(encoding="utf-8"))
    assert count >= 8, f"the deck of {chapter} has {count} slides; mark at least 8 with slideshow metadata"


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_deck_shows_no_solution(site_dir, chapter):
    source = BOOK_ROOT / f"{chapter}.md"
    page = deck_file(site_dir, chapter).read_text(encoding="utf-8")
    # Every line a reader of the deck can see, as one code cell, so that the leak check
    # compares each of them with the chapter's solution code.
    deck_text = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(visible_text(page))])

    assert notebooks.solution_leaks(deck_text, source) == []
    executed_notebook = nbformat.read(BOOK_ROOT / "_build" / "jupyter_execute" / f"{chapter}.ipynb", as_version=4)
    rebuilt = slides.build_deck(executed_notebook, notebooks.read_settings(BOOK_ROOT), source)
    assert notebooks.solution_leaks(rebuilt.notebook, source) == []


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_page_links_deck(site_dir, chapter):
    page_path = site_dir / f"{chapter}.html"
    page = page_path.read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]+)"[^>]*class="[^"]*btn-slides-button', page)

    assert len(links) == 1, f"{page_path} has {len(links)} slides buttons"
    assert (page_path.parent / links[0]).resolve() == deck_file(site_dir, chapter).resolve()


@pytest.mark.book
def test_instructor_page_links_every_deck(site_dir):
    page_path = site_dir / "book" / "instructors.html"
    page = page_path.read_text(encoding="utf-8")
    links = {(page_path.parent / href).resolve() for href in re.findall(r'href="([^"]*slides/[^"#]+)"', page)}

    for chapter in CHAPTERS:
        assert deck_file(site_dir, chapter).resolve() in links, f"the instructor page does not link the deck of {chapter}"
    assert (site_dir / "slides" / "index.html").resolve() in links


# The decks in headless Chromium, with no network.


@pytest.fixture
def open_deck(browser, site_url):
    visitor = SiteVisitor(browser, site_url)

    def load(path: str = DECK_URL):
        visit = visitor.open(path)
        visit.page.wait_for_function("() => window.Reveal && Reveal.isReady()")
        return visit

    yield load
    visitor.close()


@pytest.mark.book
@pytest.mark.browser
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_deck_loads_offline(open_deck, chapter):
    visit = open_deck(str(slides.deck_relative_path(chapter)))

    assert visit.status == 200
    assert visit.outside_requests == [], f"the deck requested other hosts: {visit.outside_requests}"
    assert visit.failed_requests == [], f"the deck has failed requests: {visit.failed_requests}"
    assert visit.console_errors == [], f"the deck logged console errors: {visit.console_errors}"
    assert visit.page_errors == [], f"the deck raised uncaught exceptions: {visit.page_errors}"


@pytest.mark.book
@pytest.mark.browser
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_deck_math_typeset(open_deck, chapter):
    page = open_deck(str(slides.deck_relative_path(chapter))).page
    untypeset = page.evaluate(
        """() => [...document.querySelectorAll('.reveal .slides .math')]
                .filter(element => !element.querySelector('mjx-container'))
                .map(element => element.textContent.trim().slice(0, 80))"""
    )

    # TeX left in the slides' text, outside code and speaker notes (which keep their math as TeX).
    raw_tex = page.evaluate(
        r"""() => {
            const walker = document.createTreeWalker(document.querySelector('.reveal .slides'), NodeFilter.SHOW_TEXT);
            const found = [];
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const text = node.textContent;
                if (!node.parentElement.closest('pre, code, mjx-container, .notes') && /\\\(|\\\[|\$\$/.test(text)) {
                    found.push(text.trim().slice(0, 80));
                }
            }
            return found;
        }"""
    )

    assert page.locator(".reveal .slides mjx-container").count() > 0, "no typeset math in the deck"
    assert untypeset == [], f"math that MathJax did not typeset: {untypeset}"
    assert raw_tex == [], f"the slides show raw TeX: {raw_tex}"


@pytest.mark.book
@pytest.mark.browser
def test_deck_right_arrow_advances(open_deck):
    page = open_deck().page
    first = page.evaluate("() => Reveal.getIndices()")

    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => Reveal.getIndices().h !== 0 || Reveal.getIndices().v !== 0")
    second = page.evaluate("() => Reveal.getIndices()")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => Reveal.getIndices().h > {second['h']} || Reveal.getIndices().v > {second['v']}")

    assert (first["h"], first["v"]) == (0, 0)
    assert (second["h"], second["v"]) != (0, 0)


@pytest.mark.book
@pytest.mark.browser
def test_deck_speaker_view_shows_notes(open_deck):
    page = open_deck().page
    expected = page.evaluate("() => Reveal.getSlideNotes(Reveal.getSlides()[0])")
    assert expected, "the title slide has no speaker notes"
    words = re.sub(r"<[^>]+>", " ", expected).split()[:4]

    with page.expect_popup() as popup_info:
        page.keyboard.press("s")
    speaker_view = popup_info.value
    speaker_view.wait_for_load_state("load")
    notes = speaker_view.locator(".speaker-controls-notes .value")
    notes.wait_for()

    assert " ".join(words) in " ".join(notes.inner_text().split())


@pytest.mark.book
@pytest.mark.browser
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_deck_slides_fit_screen(open_deck, chapter):
    page = open_deck(str(slides.deck_relative_path(chapter))).page
    overflowing = page.evaluate(
        """() => {
            const height = Reveal.getConfig().height;
            const width = Reveal.getConfig().width;
            const found = [];
            Reveal.getSlides().forEach((slide, number) => {
                const indices = Reveal.getIndices(slide);
                Reveal.slide(indices.h, indices.v);
                const title = (slide.querySelector('h1, h2, h3') || slide).textContent.trim().slice(0, 60);
                if (slide.scrollHeight > height) {
                    found.push(`slide ${number + 1} (${title}): ${slide.scrollHeight} px of ${height} tall`);
                }
                if (slide.scrollWidth > width + 1) {
                    found.push(`slide ${number + 1} (${title}): ${slide.scrollWidth} px of ${width} wide`);
                }
            });
            Reveal.slide(0, 0);
            return found;
        }"""
    )

    assert overflowing == [], f"slides larger than the screen: {overflowing}"


@pytest.mark.book
@pytest.mark.browser
def test_deck_screenshot(open_deck):
    page = open_deck().page
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    # The slide of the exact solution: typeset math and a figure revealed as a fragment.
    index = page.evaluate(
        """() => Reveal.getSlides().findIndex(slide => slide.querySelector('mjx-container') &&
                                                          slide.querySelector('img'))"""
    )
    assert index >= 0, "no slide with both math and a figure"
    page.evaluate(f"() => {{ const s = Reveal.getSlides()[{index}]; const i = Reveal.getIndices(s); Reveal.slide(i.h, i.v, 99); }}")
    page.wait_for_timeout(500)
    targets = {"title": SCREENSHOT_DIR / "slides_heat_equation_title.png", "content": SCREENSHOT_DIR / "slides_heat_equation.png"}

    page.screenshot(path=str(targets["content"]))
    present = page.locator(".reveal .slides section.present")

    assert present.first.is_visible(), "no present slide is visible"
    assert present.locator("img").first.is_visible(), "the slide's figure is not visible"
    assert present.locator("mjx-container").first.is_visible(), "the slide's math is not visible"
    scroll = page.evaluate("() => [document.scrollingElement.scrollHeight, window.innerHeight]")
    assert scroll[0] <= scroll[1], f"the deck scrolls like a page: {scroll[0]} px in a {scroll[1]} px window"

    page.evaluate("() => Reveal.slide(0, 0)")
    page.wait_for_timeout(500)
    page.screenshot(path=str(targets["title"]))

    assert present.locator("h1").first.is_visible(), "the title slide shows no title"
    for target in targets.values():
        assert target.stat().st_size > 10_000, f"screenshot {target} is nearly empty"


@pytest.mark.book
@pytest.mark.browser
def test_deck_pdf_export(site_dir, tmp_path, browser):
    deck = deck_file(site_dir, "book/pinns/heat_equation")
    pdf = tmp_path / "heat_equation.pdf"

    pages = slides.export_pdf(deck, pdf, CHROMIUM, browser=browser)

    slide_count = count_slides(deck.read_text(encoding="utf-8"))
    assert pages == slide_count, f"{pages} print pages for {slide_count} slides"
    assert pages >= 8
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == slide_count


def instructor_plan_ranges(instructors_page: str, chapter_title: str) -> list[tuple[int, int]]:
    """Return the (first, last) slides in the Deck column of the plan whose heading begins the chapter's title."""
    sections = re.split(r"^### ", instructors_page, flags=re.M)[1:]
    matching = [section for section in sections if chapter_title.startswith(section.split("\n", 1)[0].strip())]
    assert len(matching) == 1, f"{len(matching)} sections of the instructors' page are headed by a start of {chapter_title!r}"
    return [(int(first), int(last or first)) for first, last in re.findall(r"\| slides? (\d+)(?:–(\d+))? \|$", matching[0], re.M)]


def test_instructor_plan_ranges_reads_the_deck_column():
    page = "### Chapter one\n\n| Minutes | Part | Deck |\n| --- | --- | --- |\n| 0–5 | a | slides 1–3 |\n| 5–9 | b | slide 4 |\n"
    assert instructor_plan_ranges(page, "Chapter one: more") == [(1, 3), (4, 4)]
    with pytest.raises(AssertionError, match="0 sections"):
        instructor_plan_ranges(page, "Chapter two")


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_instructor_plan_covers_every_slide(site_dir, chapter):
    source = BOOK_ROOT / f"{chapter}.md"
    title = re.search(r"^# (.+)$", source.read_text(encoding="utf-8"), re.M).group(1).strip()
    ranges = instructor_plan_ranges((BOOK_ROOT / "book" / "instructors.md").read_text(encoding="utf-8"), title)
    count = count_slides(deck_file(site_dir, chapter).read_text(encoding="utf-8"))

    assert ranges, f"the instructors' plan for {title!r} has no Deck column"
    expected_first = 1
    for first, last in ranges:
        assert first == expected_first, f"the plan for {title!r} jumps to slide {first} after slide {expected_first - 1}"
        assert last >= first, f"the plan for {title!r} has the range {first}–{last}"
        expected_first = last + 1
    assert expected_first - 1 == count, f"the plan for {title!r} ends at slide {expected_first - 1}; the deck has {count}"


def checker_labels_out_of_place(notebook: nbformat.NotebookNode) -> list[str]:
    """Return each checker verdict "Exercise K (...)" printed where the K-th exercise is not the latest one."""
    latest, wrong = 0, []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            latest += len(re.findall(r"^(?::::+|```+)\{exercise\}", cell.source, re.M))
            continue
        texts = [output.get("text", "") for output in cell.get("outputs", [])]
        texts += [output.get("data", {}).get("text/plain", "") for output in cell.get("outputs", [])]
        for number in re.findall(r"\bExercise (\d+) \(", "\n".join(texts)):
            if int(number) != latest:
                wrong.append(f"Exercise {number} after exercise {latest}")
    return wrong


def test_checker_labels_out_of_place_finds_swapped_labels():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(":::{exercise} First\n:::"),
        nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("stream", name="stdout", text="[correct] Exercise 2 (b)")]),
        nbformat.v4.new_markdown_cell("::::{exercise} Second\n::::"),
        nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("stream", name="stdout", text="[correct] Exercise 2 (b)")]),
    ])
    assert checker_labels_out_of_place(notebook) == ["Exercise 2 after exercise 1"]


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_checker_labels_match_exercise_numbers(chapter):
    executed = BOOK_ROOT / "_build" / "jupyter_execute" / f"{chapter}.ipynb"
    notebook = nbformat.read(executed, as_version=4)
    assert checker_labels_out_of_place(notebook) == []
