"""The NER template in a real headless Chromium, fed by the real pre-labeling Lambda, under both
readings of Ground Truth's ``to_json`` (escaping ``</`` or not).

For each hostile abstract: the text is uploaded to the moto S3 endpoint exactly as a hostile file
would hold it (CR/LF line endings included), the pre-labeling Lambda turns it into the task input,
the template is rendered with each ``to_json`` variant and opened in Chromium with the offline
crowd elements. No injected script may run, the page must hold exactly the text pre-labeling
returned, and a selection tagged by the worker must come back as code-point offsets into it.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_ground_truth.server import STAND_IN
from ner_pre_labeling import handler
from tests.test_local_runner_browser import page_for
from tests.test_local_runner_browser_ner import select
from tests.test_ner_template import LABELS, TO_JSON_VARIANTS, fake_presign, make_input, render

PAGE_JPEG = (Path(__file__).resolve().parent.parent / "sample_data" / "ner" / "pages" / "abstract-01.jpg").read_bytes()
TASK_URL = "https://worker.test/task"
TARGET = "𝔼[X] ≈ 3.5 🌊 mm/a"  # the span the worker tags: astral characters inside and before it

# Each payload tries to run script, which would set window.__pwned and/or open a dialog.
HOSTILE = {
    "script-close": "</script><script>window.__pwned='script-close';alert(1)</script>",
    "script-close-upper": "</SCRIPT ><script>window.__pwned='upper'</script>",
    "comment": "<!-- <script>window.__pwned='comment'</script>",
    "comment-close": "--> <!-- --!> <script>window.__pwned='comment-close'</script>",
    "attribute-double": "\" autofocus onfocus=\"window.__pwned='double'\" x=\"",
    "attribute-single": "' autofocus onfocus='window.__pwned=`single`' x='",
    "element": "</div><img src=x onerror=\"window.__pwned='img'\"><svg onload=\"window.__pwned='svg'\">",
    "entities": "&lt;script&gt;window.__pwned='entities'&lt;/script&gt; &amp; &#60;b&#62; &#0;",
    "liquid": "{{ 7*7 }} {% raw %}",
    "line-endings": "line one\r\nline two\rline three\n\r\n",
    "astral": "👩‍🔬 e\u0301 𝒳 \U0001F600 \u2028 \u2029 \ufeff in the middle",
}


def abstract(hostile: str) -> str:
    return f"Background: {hostile}\r\nResults: {TARGET} near the coast. End: {hostile}"


@pytest.fixture
def pre_labeled(s3, bucket):
    """Run the real pre-labeling Lambda on a raw (hostile) text file; returns its task input."""
    handler.s3_client.cache_clear()

    def run(raw: str) -> dict:
        s3.put_object(Bucket=bucket, Key="ner/pages/a.jpg", Body=PAGE_JPEG)
        s3.put_object(Bucket=bucket, Key="ner/abstracts/a.txt", Body=raw.encode("utf-8"))
        event = {"version": "2018-10-06", "labelingJobArn": "arn:aws:sagemaker:us-east-1:1:labeling-job/t",
                 "dataObject": {"source-ref": f"s3://{bucket}/ner/pages/a.jpg",
                                "text-file-s3-uri": f"s3://{bucket}/ner/abstracts/a.txt",
                                "metadata": {"Title": "T</script><script>window.__pwned='title'</script>",
                                             "Author": "A\" onmouseover=\"window.__pwned='author'"}}}
        return handler.lambda_handler(event)["taskInput"]

    yield run
    handler.s3_client.cache_clear()


def open_page(browser, html: str, page=None):  # noqa: F811
    """Open the rendered template; ``page`` is one of a context of the caller's (a touch screen's, say)."""
    if page is None:
        page = page_for(browser)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.route("https://assets.crowd.aws/crowd-html-elements.js",
               lambda route: route.fulfill(path=str(STAND_IN), content_type="application/javascript"))
    page.route("https://presigned.example/**", lambda route: route.fulfill(body=PAGE_JPEG, content_type="image/jpeg"))
    page.route(TASK_URL, lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"))
    page.add_init_script("window.LOCAL_GT_SUBMIT_URL = '/submit';")
    page.goto(TASK_URL)
    page.wait_for_selector("#abstract-container span")
    page.wait_for_timeout(150)  # let any injected handler (onload, onerror, autofocus) fire
    return page, dialogs


def utf16(text: str, code_points: int) -> int:
    return len(text[:code_points].encode("utf-16-le")) // 2


@pytest.mark.parametrize("variant", list(TO_JSON_VARIANTS))
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_abstract_runs_nothing_and_offsets_are_code_points(browser, pre_labeled, case, variant):  # noqa: F811
    task_input = pre_labeled(abstract(HOSTILE[case]))
    text = task_input["text"]
    assert "\r" not in text and text == abstract(HOSTILE[case]).replace("\r\n", "\n").replace("\r", "\n")
    page, dialogs = open_page(browser, render(task_input, TO_JSON_VARIANTS[variant]))

    assert page.evaluate("window.__pwned") is None and dialogs == []
    # The page holds exactly the text pre-labeling returned, and shows it as text.
    assert page.evaluate("document.getElementById('abstract-text').getAttribute('data-text')") == text
    assert page.evaluate("document.getElementById('abstract-container').textContent") == text
    assert page.eval_on_selector_all("#abstract-container *", "els => els.filter(e => e.tagName !== 'SPAN').length") == 0

    start = text.index(TARGET)
    end = start + len(TARGET)
    select(page, utf16(text, start), utf16(text, end))
    page.click("button[data-label=Results]")
    answer = json.loads(page.input_value("#abstract-answer"))
    assert answer == {"entities": [{"label": "Results", "startOffset": start, "endOffset": end}]}
    assert text[start:end] == TARGET
    assert page.inner_text("#tag-list .tag-text") == TARGET
    assert page.evaluate("window.__pwned") is None and dialogs == []


def test_a_selection_inside_astral_text_maps_to_code_points(browser, pre_labeled):  # noqa: F811
    text = pre_labeled("🌊🌊 Methods: 𝒳𝒴 measured 👩‍🔬 twice.\r\nEnd.")["text"]
    page, _ = open_page(browser, render({"taskObject": "s3://b/p.jpg", "text": text,
                                         "metadata": {"Title": "T", "Author": "A"}}))
    start, end = text.index("𝒳𝒴"), text.index(" twice")
    select(page, utf16(text, start), utf16(text, end))
    page.click("button[data-label=Methods]")
    [entity] = json.loads(page.input_value("#abstract-answer"))["entities"]
    assert (entity["startOffset"], entity["endOffset"]) == (start, end)
    assert text[entity["startOffset"]:entity["endOffset"]] == "𝒳𝒴 measured 👩‍🔬"


def test_a_selection_inside_a_word_takes_the_whole_word(browser, pre_labeled):  # noqa: F811
    """A drag, or Shift+arrow a character at a time, that starts or ends inside a word: the tag takes the whole
    word (it split words: "easured the 𝒳𝒴"), in any script, astral letters included, and the worker is told."""
    text = pre_labeled("We measured the 𝒳𝒴z flux of né-e twice.")["text"]
    page, _ = open_page(browser, render({"taskObject": "s3://b/p.jpg", "text": text,
                                         "metadata": {"Title": "T", "Author": "A"}}))
    start, end = text.index("easured"), text.index("𝒴") + 1  # inside "measured" and inside "𝒳𝒴z"
    select(page, utf16(text, start), utf16(text, end))
    page.click("button[data-label=Methods]")
    [entity] = json.loads(page.input_value("#abstract-answer"))["entities"]
    assert text[entity["startOffset"]:entity["endOffset"]] == "measured the 𝒳𝒴z"
    assert "widened to whole words" in page.inner_text("#ner-message")
    # From the keyboard: the caret inside "né", Shift+Right twice ends inside "né-e" at the hyphen: "né" whole.
    caret = utf16(text, text.index("né") + 1)
    select(page, caret, caret)
    page.focus("#abstract-container")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("2")
    entities = json.loads(page.input_value("#abstract-answer"))["entities"]
    assert [text[e["startOffset"]:e["endOffset"]] for e in entities] == ["measured the 𝒳𝒴z", "né"]
    # A selection of whole words is kept as it is, and said so.
    select(page, utf16(text, text.index("twice")), utf16(text, text.index("twice") + 5))
    page.keyboard.press("3")
    assert json.loads(page.input_value("#abstract-answer"))["entities"][-1]["startOffset"] == text.index("twice")
    assert "widened" not in page.inner_text("#ner-message")


def test_a_word_after_an_emoji_is_tagged_without_the_emojis_marks(browser, pre_labeled):  # noqa: F811
    """Widening walked back over the marks of the emoji before a word (U+FE0F, a keycap's U+20E3), which count as
    word characters: the tag took "\\ufe0fMethods", started between the emoji and its mark, and said it widened
    a selection of the whole word."""
    text = pre_labeled("Background \u2764\ufe0fMethods and #\ufe0f\u20e3Results.")["text"]
    page, _ = open_page(browser, render({"taskObject": "s3://b/p.jpg", "text": text,
                                         "metadata": {"Title": "T", "Author": "A"}}))
    start = text.index("Methods")
    select(page, utf16(text, start), utf16(text, start + len("Methods")))
    page.click("button[data-label=Methods]")
    assert "widened" not in page.inner_text("#ner-message")
    start = text.index("esults")  # inside the word: widened to it, and no further
    select(page, utf16(text, start), utf16(text, start + len("esults")))
    page.click("button[data-label=Results]")
    assert "widened to whole words" in page.inner_text("#ner-message")
    entities = json.loads(page.input_value("#abstract-answer"))["entities"]
    assert [text[e["startOffset"]:e["endOffset"]] for e in entities] == ["Methods", "Results"]


def test_the_remove_question_quotes_whole_characters_of_a_long_span(browser, pre_labeled):  # noqa: F811
    """The question quoted the span's first 60 UTF-16 units: a 𝛼 at the cut was halved into a lone surrogate."""
    word = "x" * 59 + "\U0001D6FC\U0001D6FC"
    text = pre_labeled(f"Methods: {word} measured.")["text"]
    page, _ = open_page(browser, render({"taskObject": "s3://b/p.jpg", "text": text,
                                         "metadata": {"Title": "T", "Author": "A"}}))
    start = text.index(word)
    select(page, utf16(text, start), utf16(text, start + len(word)))
    page.click("button[data-label=Methods]")
    page.click("#abstract-container mark")
    question = page.evaluate("document.getElementById('ner-message').firstChild.data")
    assert question == f"Remove the Methods tag on \u201c{word[:60]}\u201d? "


@pytest.mark.parametrize("variant, runs", [("to_json-plain", True), ("to_json-escapes", False)])
def test_the_plain_variant_really_breaks_a_script_block(browser, variant, runs):  # noqa: F811
    """Control: the test-only to_json is as dangerous as claimed, so the tests above mean something.
    A template that carried the text in a JSON script block would run the payload under it."""
    from local_ground_truth.liquid import make_environment

    environment = make_environment(fake_presign)
    environment.filters["to_json"] = TO_JSON_VARIANTS[variant]
    html = environment.from_string(
        '<script type="application/json" id="t">{{ text | to_json }}</script>'
        '<div id="abstract-container"><span>x</span></div>').render(text=HOSTILE["script-close"])
    page, dialogs = open_page(browser, html)
    assert (page.evaluate("window.__pwned") == "script-close") is runs
    assert bool(dialogs) is runs


def test_a_right_to_left_abstract_keeps_its_words_in_order_around_a_tag(browser, pre_labeled):  # noqa: F811
    """The text box was left-to-right: a tag's Latin label split an Arabic run and the tagged word jumped to the
    line's far end."""
    text = pre_labeled("خلفية: هذه الدراسة تبحث في أثر الري على المحاصيل.")["text"]
    page, _ = open_page(browser, render({"taskObject": "s3://b/p.jpg", "text": text,
                                         "metadata": {"Title": "T", "Author": "A"}}))
    assert page.evaluate("getComputedStyle(document.getElementById('abstract-container')).direction") == "rtl"
    start = text.index("الدراسة")
    select(page, utf16(text, start), utf16(text, start + len("الدراسة")))
    page.click("button[data-label=Objectives]")
    before = page.locator("#abstract-container span").first.bounding_box()  # "خلفية: هذه " reads first: rightmost
    mark = page.locator("#abstract-container mark").bounding_box()
    after = page.locator("#abstract-container span").nth(1).bounding_box()
    assert after["x"] + after["width"] <= mark["x"] + 1 and mark["x"] + mark["width"] <= before["x"] + 1


def test_escape_closes_the_remove_question_and_keeps_the_tag(browser, pre_labeled):  # noqa: F811
    """Escape did nothing, and Ctrl+Z undid a tag with the question still up."""
    text = pre_labeled("Methods: samples were measured twice. Results: they agree.")["text"]
    page, _ = open_page(browser, render({"taskObject": "s3://b/p.jpg", "text": text,
                                         "metadata": {"Title": "T", "Author": "A"}}))
    select(page, 0, 8)
    page.click("button[data-label=Methods]")
    page.click("#abstract-container mark")
    assert "Remove the Methods tag" in page.inner_text("#ner-message")
    page.keyboard.press("Escape")
    assert page.inner_text("#ner-message") == "" and len(json.loads(page.input_value("#abstract-answer"))["entities"]) == 1
    page.click("#abstract-container mark")
    page.keyboard.press("Control+z")  # undoes the tag, and the question goes with it
    assert "Remove the" not in page.inner_text("#ner-message")
    assert json.loads(page.input_value("#abstract-answer"))["entities"] == []


def test_undo_keeps_the_focus_in_the_text_and_shift_tab_brings_a_tag_clear_of_the_label_bar(browser, pre_labeled):  # noqa: F811
    """Undo by its button (then disabled) or Ctrl+Z on a tag's x (the list rebuilt) left the focus on the page's body,
    where a screen reader loses its place; at 640x360 (200% zoom) Shift+Tab focused tags' x buttons under the sticky
    label bar, out of sight."""
    sentence = "Methods: samples were measured twice and compared. "
    text = pre_labeled("Background: " + sentence * 40)["text"]
    page, _ = open_page(browser, render({"taskObject": "s3://b/p.jpg", "text": text,
                                         "metadata": {"Title": "T", "Author": "A"}}))
    select(page, 0, 10)
    page.click("button[data-label=Background]")
    page.focus(".ner-undo")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "abstract-container"
    for start in range(0, 8 * 60, 60):  # eight tags: their list runs below the text
        select(page, start + 13, start + 20)
        page.click("button[data-label=Methods]")
    page.focus(".tag-remove")
    page.keyboard.press("Control+z")
    assert page.evaluate("document.activeElement.id") == "abstract-container"

    page.set_viewport_size({"width": 640, "height": 360})
    page.locator(".ner-taglist .tag-remove").last.focus()
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    covered = []
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        covered.append(page.evaluate("""() => {
            const el = document.activeElement, bar = document.getElementById('ner-toolbar');
            if (bar.contains(el) || el.id === 'abstract-container' || el === document.body) return false;
            return el.getBoundingClientRect().top < bar.getBoundingClientRect().bottom;
        }"""))
    assert not any(covered)


@pytest.mark.parametrize("task_input", [
    make_input("Background: " + "Hydroxy" * 60 + " is studied. Results: it works."),
    make_input("Background: data at https://example.org/" + "a/b" * 150 + " . Results: y."),
    make_input("Background: x. Results: y.", title="A-" + "very-long-title-" * 30, author="Z" * 200),
], ids=["long-word", "long-url", "long-title-and-author"])
@pytest.mark.parametrize("width", [375, 1280])
def test_a_long_unbroken_run_wraps_inside_its_column_and_the_page_keeps_its_width(browser, task_input, width):
    """A chemical name, a URL or a title with no space in it widened the page (3,449 px on a 375 px phone) and the
    worker scrolled sideways to read the abstract; it wraps, and the text the worker tags is unchanged."""
    page, dialogs = open_page(browser, render(task_input))
    page.set_viewport_size({"width": width, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate("document.getElementById('abstract-container').textContent") == task_input["text"]
    assert dialogs == []


@pytest.mark.parametrize("touch", [True, False], ids=["touch", "desktop"])
def test_a_touch_screen_shows_no_key_hints_and_a_desktop_does(browser, touch):
    """On a phone the section buttons read '1 Background' and the undo 'Ctrl+Z Undo', keys it does not have."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=touch, is_mobile=touch)
    try:
        page, dialogs = open_page(browser, render(make_input("Background: x. Results: y.")), context.new_page())
        first = page.locator(".ner-labels button").first
        assert first.locator("kbd").is_visible() is not touch
        assert page.locator(".ner-undo kbd").is_visible() is not touch
        assert page.locator("#section-help dt .ner-key").first.is_visible() is not touch
        assert page.locator(".ner-desk").is_visible() is not touch and page.locator(".ner-touch").is_visible() is touch
        # Keys or not, the button is named by its section alone, and the help names every section.
        assert first.inner_text().strip().endswith(LABELS[0])
        assert first.get_attribute("aria-keyshortcuts") == "1"
        shown = [term.strip().rstrip(":") for term in page.locator("#section-help dt").all_inner_texts()]
        assert shown == [f"{n} {label}" if not touch else label for n, label in enumerate(LABELS, 1)]
        assert dialogs == []
    finally:
        context.close()
