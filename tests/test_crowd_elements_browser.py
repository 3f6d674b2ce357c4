"""The offline crowd elements (local_ground_truth/static/crowd-html-elements.js) in a real headless Chromium.

For each element the question types use, a small template is rendered through the runner's Liquid
environment, opened with the offline elements, answered as a worker would (clicks, typing, a text
selection), and submitted: the JSON the page sends must be exactly the element's documented answer
shape, and pass the server's own reading and form rules (``server.parse_answer``, ``form_rules``), i.e.
be what the server records. A form the real crowd-form would not submit sends nothing.
"""
from __future__ import annotations

import json

import pytest

from gt_common.questions import Spans
from local_ground_truth.form_rules import rules_of
from local_ground_truth.liquid import render_source
from local_ground_truth.server import parse_answer
from tests.test_local_runner_browser import open_task_page, page_for
from workflows.model import inject_labels

TASK_URL = "https://worker.test/task"
SUBMIT_URL = "https://worker.test/submit"
DONE_URL = "https://worker.test/done"
SCRIPT = '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>\n'


class Worker:
    """A page of ``template`` (Liquid, rendered with ``task_input``), and what it posts."""

    def __init__(self, browser, template: str, task_input: dict | None = None, *,  # noqa: F811
                 globals_: dict | None = None, context=None) -> None:
        self.html = render_source(SCRIPT + template, task_input or {}, lambda uri: "https://signed.test/x")
        self.dialogs: list[str] = []
        if context is None:
            self.page = page_for(browser)
        else:  # a browser context of the caller's (a phone's, say)
            self.page = context.new_page()
            self.page.route("https://assets.crowd.aws/**", lambda route: route.abort())
        for name, value in (globals_ or {}).items():  # what the runner's task bar defines, e.g. LOCAL_GT_DRAFT_KEY
            self.page.add_init_script(f"window.{name} = {json.dumps(value)};")
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.posted = open_task_page(self.page, self.html, TASK_URL, SUBMIT_URL, DONE_URL)

    def submit(self, button: str = ".local-gt-submit") -> str:
        """Click Submit; "" once the page moved on, else what the page says (nothing was sent then)."""
        self.page.click(button)
        self.page.wait_for_function("location.href.endsWith('/done') || Array.from(document.querySelectorAll("
                                    "'.local-gt-status')).some(s => s.textContent && !s.textContent.startsWith('Sending'))")
        return "" if self.page.url == DONE_URL else self.page.inner_text(".local-gt-status")

    def recorded(self) -> dict:
        """The one answer sent, as the server reads it; it passes the page's form rules."""
        [body] = self.posted
        answer = parse_answer(body)
        assert rules_of(self.html).problems(answer) == []
        return answer

    def select(self, container: str, start: int, end: int) -> None:
        """Select [start, end) (UTF-16 indexes) of ``container``'s text, as a mouse drag would."""
        self.page.evaluate("""([selector, start, end]) => {
            const walker = document.createTreeWalker(document.querySelector(selector), NodeFilter.SHOW_TEXT);
            let node, seen = 0, range = document.createRange(), started = false;
            while ((node = walker.nextNode())) {
                const length = node.data.length;
                if (!started && start < seen + length) { range.setStart(node, start - seen); started = true; }
                if (started && end <= seen + length) { range.setEnd(node, end - seen); break; }
                seen += length;
            }
            window.getSelection().removeAllRanges();
            window.getSelection().addRange(range);
        }""", [container, start, end])


def utf16(text: str, code_points: int) -> int:
    return len(text[:code_points].encode("utf-16-le")) // 2


def test_crowd_classifier_submits_the_chosen_category_and_refuses_none(browser):  # noqa: F811
    worker = Worker(browser, """<crowd-form>
      <crowd-classifier name="weld" categories='["Good Weld", "Burn Through"]' header="Which?">
        <classification-target><p>{{ task.input.title }}</p></classification-target>
      </crowd-classifier></crowd-form>""", {"title": "run 7"})
    assert "Choose a category" in worker.submit() and worker.posted == []
    worker.page.check("input[value='Burn Through']")
    assert worker.submit() == ""
    assert worker.recorded() == {"weld": {"label": "Burn Through"}}


def test_crowd_classifier_multi_select_submits_every_chosen_category(browser):  # noqa: F811
    # The element page's own example writes the categories single-quoted; the real element reads that too.
    worker = Worker(browser, """<crowd-form>
      <crowd-classifier-multi-select name="topics" categories="['Billing', 'Login', 'Other']" header="Topics?">
        <classification-target>Ticket</classification-target>
      </crowd-classifier-multi-select></crowd-form>""")
    assert "Choose at least one category" in worker.submit() and worker.posted == []
    worker.page.check("input[value='Billing']")
    worker.page.check("input[value='Other']")
    assert worker.submit() == ""
    assert worker.recorded() == {"topics": {"labels": ["Billing", "Other"]}}


def test_crowd_radio_group_submits_each_buttons_state_and_one_is_checked(browser):  # noqa: F811
    worker = Worker(browser, """<crowd-form>
      <crowd-radio-group>
        <crowd-radio-button name="valid:Yes" value="Yes">Yes</crowd-radio-button>
        <crowd-radio-button name="valid:No" value="No">No</crowd-radio-button>
      </crowd-radio-group>
      <crowd-radio-group>
        <crowd-radio-button name="btn1" value="yes" checked>Agree</crowd-radio-button>
        <crowd-radio-button name="btn2" value="no">Disagree</crowd-radio-button>
      </crowd-radio-group></crowd-form>""")
    worker.page.click("text=Yes")
    worker.page.click("text=No")  # the group lets one button be checked
    worker.page.click("text=Disagree")
    assert worker.submit() == ""
    # As the element page shows: one object per button name, its value true or false.
    assert worker.recorded() == {"valid:Yes": {"Yes": False}, "valid:No": {"No": True}, "btn1": {"yes": False},
                                 "btn2": {"no": True}}


def test_a_radio_button_or_checkbox_wraps_to_the_next_line_with_its_whole_label(browser):  # noqa: F811
    """As Ground Truth's own inline-block elements: forty buttons in a narrow form wrap between buttons, never inside
    a label ("Species" at one line's end, "10" at the next's start)."""
    buttons = "".join(f'<crowd-radio-button name="species:Species {n}" value="Species {n}">Species {n}'
                      "</crowd-radio-button>" for n in range(40))
    worker = Worker(browser, f"""<crowd-form><div style="width: 500px">
      <crowd-radio-group>{buttons}</crowd-radio-group>
      <crowd-checkbox name="sure" value="sure">Sure of it, after a long look</crowd-checkbox></div></crowd-form>""")
    heights = worker.page.eval_on_selector_all(
        "crowd-radio-button, crowd-checkbox", "els => els.map(el => el.getBoundingClientRect().height)")
    assert len(heights) == 41 and max(heights) < 1.5 * min(heights), heights  # each on one line
    assert worker.page.eval_on_selector_all("crowd-radio-button", "els => new Set(els.map(el => "
                                            "Math.round(el.getBoundingClientRect().top))).size") > 3  # yet wrapped


@pytest.mark.parametrize("element", ["crowd-classifier", "crowd-classifier-multi-select"])
def test_long_category_names_wrap_inside_the_side_panel(browser, element):  # noqa: F811
    """A fieldset is as wide as its longest line unless told otherwise: categories of some 50 letters (or one word of
    100) ran out of the side panel and off the page (1,616 px at 1280 px, 665 px at 375 px)."""
    from gt_common.questions import Classification, MultiSelect

    names = tuple(f"Category with a rather long descriptive name number {n}" for n in range(7)) + ("Unbroken" * 12,)
    question = (Classification if element == "crowd-classifier" else MultiSelect)(name="c", choices=names)
    worker = Worker(browser, inject_labels(f"<crowd-form><{element} name='c' categories='[[labels:c]]' header='Pick'>"
                                           f"<classification-target><p>x</p></classification-target></{element}>"
                                           "</crowd-form>", (question,)))
    for width in (375, 1280):
        worker.page.set_viewport_size({"width": width, "height": 740})
        assert worker.page.evaluate("document.documentElement.scrollWidth") <= width
        assert worker.page.evaluate("""() => { const side = document.querySelector('.local-gt-side').getBoundingClientRect();
            return Array.from(document.querySelectorAll('.local-gt-category')).every(c => {
                const box = c.getBoundingClientRect(); return box.left >= side.left && box.right <= side.right; }); }""")
    assert worker.page.eval_on_selector_all(".local-gt-category span", "spans => spans.map(s => s.textContent)") == \
        list(names)


def test_a_scaffolded_text_page_wraps_a_long_unbroken_text_inside_a_phones_width(browser):  # noqa: F811
    """The scaffold's text item kept a URL or a token with no space on one line (white-space: pre-wrap alone), and
    a question's fieldset was as wide as its longest label: the worker scrolled the whole page sideways (718 px)."""
    from pathlib import Path

    from gt_common.questions import Classification, YesNo
    from workflows.model import WorkflowDefinition
    from workflows.scaffold import Scaffold

    questions = (YesNo(name="spam"), Classification(name="kind", choices=(
        "Category with a rather long descriptive name number one", "Unbroken" * 12)))
    definition = WorkflowDefinition(name="triage", title="Triage", description="d", label_attribute_name="l",
                                    questions=questions)
    page = inject_labels(Scaffold(definition, Path(".")).template(), questions, "triage", whole_page=True,
                         texts={"title": "Triage", "description": "d"})
    text = "See https://example.org/" + "a/b" * 200 + "\nand a second line."
    worker = Worker(browser, page, {"text": text})
    worker.page.set_viewport_size({"width": 375, "height": 740})
    assert worker.page.evaluate("document.documentElement.scrollWidth") <= 375
    assert worker.page.inner_text("#item-text") == text  # wrapped where the screen ends, not changed


def test_on_a_phone_every_control_of_a_scaffolded_page_fits_a_finger(browser):  # noqa: F811
    """A radio button's or a box's label was 19 px tall, a category 28: under a finger's 44 px."""
    from pathlib import Path

    from gt_common.questions import Checkbox, Classification, FreeText, MultiSelect, YesNo
    from tests.test_worker_pages_browser import PHONE, SMALL_TARGETS
    from workflows.model import WorkflowDefinition
    from workflows.scaffold import Scaffold

    questions = (YesNo(name="spam"), Classification(name="kind", choices=("Bug", "Question", "Praise")),
                 Checkbox(name="urgent"), MultiSelect(name="areas", choices=("Billing", "Login")),
                 FreeText(name="summary"))
    definition = WorkflowDefinition(name="triage", title="Triage", description="d", label_attribute_name="l",
                                    questions=questions)
    page = inject_labels(Scaffold(definition, Path(".")).template(), questions, "triage", whole_page=True,
                         texts={"title": "Triage", "description": "d"})
    context = browser.new_context(**PHONE)
    try:
        worker = Worker(browser, page, {"text": "My invoice was charged twice."}, context=context)
        assert worker.page.locator("input[type=radio], input[type=checkbox]").count() >= 8  # every question shown
        assert worker.page.evaluate(SMALL_TARGETS) == []
    finally:
        context.close()


def test_crowd_checkbox_submits_true_or_false_per_value_and_a_required_one_must_be_checked(browser):  # noqa: F811
    worker = Worker(browser, """<crowd-form>
      <div><crowd-checkbox name="image_attributes:blurry" value="blurry">Blurry</crowd-checkbox></div>
      <div><crowd-checkbox name="image_attributes:dim" value="dim" checked>Too dim</crowd-checkbox></div>
      <div><crowd-checkbox name="image_attributes:exposed" value="exposed">Too bright</crowd-checkbox></div>
      <crowd-checkbox name="urgent" value="urgent">Urgent</crowd-checkbox>
      <crowd-checkbox name="verified" required>Instructions were clear</crowd-checkbox></crowd-form>""")
    assert "Instructions were clear" in worker.submit() and worker.posted == []
    worker.page.click("text=Blurry")
    worker.page.click("text=Instructions were clear")
    assert worker.submit() == ""
    assert worker.recorded() == {"image_attributes:blurry": {"blurry": True}, "image_attributes:dim": {"dim": True},
                                 "image_attributes:exposed": {"exposed": False},
                                 "urgent": {"urgent": False}, "verified": {"on": True}}


def test_plain_inputs_are_submitted_by_name_and_required_ones_checked(browser):  # noqa: F811
    worker = Worker(browser, """<crowd-form>
      <label><input type="checkbox" name="agree" value="yes" required> I agree</label>
      <label><input type="radio" name="size" value="S" required> S</label><label><input type="radio" name="size" value="L"> L</label>
      <input type="hidden" name="computed" value='{"label": "x"}'></crowd-form>""")
    assert worker.submit() == "Check agree. Answer size." and worker.posted == []
    worker.page.check("input[name=agree]")
    worker.page.check("input[value=L]")
    assert worker.submit() == ""
    assert worker.recorded() == {"agree": "yes", "size": "L", "computed": '{"label": "x"}'}


def test_crowd_input_submits_its_text_omits_an_empty_one_and_a_required_one_must_be_filled(browser):  # noqa: F811
    worker = Worker(browser, """<crowd-form>
      <crowd-input name="tag1" label="Word 1" required></crowd-input>
      <crowd-input name="tag2" label="Word 2"></crowd-input>
      <crowd-input name="tag3" label="Word 3" value="preset"></crowd-input></crowd-form>""")
    assert "Word 1 is required" in worker.submit() and worker.posted == []
    worker.page.fill("crowd-input[name=tag1] input", "blue </script> & \"quotes\"")
    assert worker.submit() == ""
    assert worker.recorded() == {"tag1": "blue </script> & \"quotes\"", "tag3": "preset"}


def test_crowd_text_area_submits_its_text_with_line_breaks_and_omits_an_empty_one(browser):  # noqa: F811
    worker = Worker(browser, """<crowd-form>
      <crowd-text-area name="notes" label="Notes" rows="3"></crowd-text-area>
      <crowd-text-area name="other"></crowd-text-area></crowd-form>""")
    worker.page.fill("crowd-text-area[name=notes] textarea", "first line\nsecond 🌊 line")
    assert worker.submit() == ""
    assert worker.recorded() == {"notes": "first line\nsecond 🌊 line"}


ENTITY_TEXT = "🌊🌊 Sue bought 𝒳𝒴 shares of Amazon on April 10th."
ENTITY_TEMPLATE = """<crowd-entity-annotation name="mentions" header="Tag the text"
    labels='[[entity-labels:mentions]]' text="{{ task.input.text }}">
  <short-instructions>Tag people and companies.</short-instructions>
  <div id="more"><crowd-radio-group>
    <crowd-radio-button name="subject:finance" value="finance">Finance</crowd-radio-button>
    <crowd-radio-button name="subject:tech" value="tech">Technology</crowd-radio-button>
  </crowd-radio-group></div>
</crowd-entity-annotation>"""
MENTIONS = (Spans(name="mentions", span_labels=("Person", "Company")),)


def test_crowd_entity_annotation_submits_code_point_entities_with_its_own_form(browser):  # noqa: F811
    worker = Worker(browser, inject_labels(ENTITY_TEMPLATE, MENTIONS), {"text": ENTITY_TEXT})
    view = "crowd-entity-annotation .local-gt-entity-text"
    assert worker.page.inner_text(view) == ENTITY_TEXT
    assert worker.page.eval_on_selector_all("crowd-entity-annotation button[data-label]",
                                            "bs => bs.map(b => b.dataset.label)") == ["Person", "Company"]
    sue, amazon = ENTITY_TEXT.index("Sue"), ENTITY_TEXT.index("Amazon")
    worker.select(view, utf16(ENTITY_TEXT, sue), utf16(ENTITY_TEXT, sue + 3))
    worker.page.click("button[data-label=Person]")
    worker.select(view, utf16(ENTITY_TEXT, amazon), utf16(ENTITY_TEXT, amazon + 6))
    worker.page.click("button[data-label=Person]")
    worker.select(view, utf16(ENTITY_TEXT, amazon), utf16(ENTITY_TEXT, amazon + 6))
    worker.page.click("button[data-label=Company]")  # the whole span again: its label changes
    worker.select(view, utf16(ENTITY_TEXT, amazon - 3), utf16(ENTITY_TEXT, amazon + 2))
    worker.page.click("button[data-label=Person]")  # part of a span: refused
    assert "overlaps" in worker.page.inner_text(".local-gt-entity-message")
    worker.page.click("text=Technology")
    assert worker.submit("crowd-entity-annotation .local-gt-submit") == ""
    answer = worker.recorded()
    assert answer == {"mentions": {"entities": [{"label": "Person", "startOffset": sue, "endOffset": sue + 3},
                                                {"label": "Company", "startOffset": amazon, "endOffset": amazon + 6}]},
                      "subject:finance": {"finance": False}, "subject:tech": {"tech": True}}
    assert [ENTITY_TEXT[e["startOffset"]:e["endOffset"]] for e in answer["mentions"]["entities"]] == ["Sue", "Amazon"]


def test_crowd_entity_annotation_tags_the_text_part_of_a_selection_reaching_past_it(browser):  # noqa: F811
    """A drag from the text onto what follows it, or a triple-click, was refused ("Select some of the text first"):
    its end lies outside the text."""
    worker = Worker(browser, inject_labels(ENTITY_TEMPLATE, MENTIONS), {"text": ENTITY_TEXT})
    view = "crowd-entity-annotation .local-gt-entity-text"
    amazon = ENTITY_TEXT.index("Amazon")
    worker.select(view, utf16(ENTITY_TEXT, amazon), utf16(ENTITY_TEXT, amazon + 1))
    worker.page.evaluate("document.getSelection().extend(document.getElementById('more'), 1)")  # onto the fields below
    worker.page.click("button[data-label=Company]")
    assert worker.page.inner_text(".local-gt-entity-message") == "Tagged as Company."
    worker.page.click("crowd-entity-annotation .local-gt-entity-remove")
    worker.page.locator(view).click(click_count=3)  # the whole paragraph, and the line break after it
    worker.page.click("button[data-label=Person]")
    worker.page.click("text=Technology")
    assert worker.submit("crowd-entity-annotation .local-gt-submit") == ""
    assert worker.recorded()["mentions"] == {"entities": [{"label": "Person", "startOffset": 0,
                                                           "endOffset": len(ENTITY_TEXT)}]}


def test_crowd_entity_annotation_shows_hostile_text_as_text(browser):  # noqa: F811
    hostile = 'a </crowd-entity-annotation><img src=x onerror="window.__pwned=1"> "quoted" \' b'
    worker = Worker(browser, inject_labels(ENTITY_TEMPLATE, MENTIONS), {"text": hostile})
    worker.page.wait_for_timeout(150)
    assert worker.page.inner_text("crowd-entity-annotation .local-gt-entity-text") == hostile
    assert worker.page.evaluate("window.__pwned") is None and worker.dialogs == []


@pytest.mark.parametrize("page, reason", [
    # A page written by hand (a definition's template with this is refused at synth: inject_labels)
    (lambda: "<crowd-form>" + inject_labels(ENTITY_TEMPLATE, MENTIONS) + "</crowd-form>",
     "must not be inside crowd-form"),
    (lambda: inject_labels(ENTITY_TEMPLATE.replace("[[entity-labels:mentions]]", "[[labels:mentions]]"), MENTIONS),
     "objects with a"),
])
def test_crowd_entity_annotation_used_against_its_element_page_says_why(browser, page, reason):  # noqa: F811
    worker = Worker(browser, page(), {"text": "Sue"})
    worker.page.wait_for_function("document.querySelector('.local-gt-status') && "
                                  "document.querySelector('.local-gt-status').textContent !== ''")
    assert reason in worker.page.inner_text(".local-gt-status")
    for button in worker.page.query_selector_all(".local-gt-submit"):
        button.click()
    worker.page.wait_for_timeout(100)
    assert worker.posted == []


def test_entity_labels_are_written_in_as_the_element_takes_them():
    page = inject_labels("<crowd-entity-annotation labels='[[entity-labels:mentions]]'>", MENTIONS)
    assert page == ("<crowd-entity-annotation labels='[{&quot;label&quot;: &quot;Person&quot;}, "
                    "{&quot;label&quot;: &quot;Company&quot;}]'>")
    assert rules_of(page + "</crowd-entity-annotation>").fields == {}  # no name: not an answer
    named = rules_of(page.replace("<crowd-entity-annotation", '<crowd-entity-annotation name="m"'))
    assert named.fields["m"].labels == ("Person", "Company")


DRAFT_KEY = "local-gt-draft:job/7/ana"
EVERY_ELEMENT = """<crowd-form>
  <crowd-classifier name="weld" categories='["Good Weld", "Burn Through", "Not sure"]' header="Which?">
    <classification-target>run 7</classification-target>
  </crowd-classifier>
  <crowd-checkbox name="attributes:blurry" value="blurry">Blurry</crowd-checkbox>
  <crowd-checkbox name="attributes:dim" value="dim">Too dim</crowd-checkbox>
  <crowd-radio-group>
    <crowd-radio-button name="valid:Yes" value="Yes">Yes</crowd-radio-button>
    <crowd-radio-button name="valid:No" value="No">No</crowd-radio-button>
  </crowd-radio-group>
  <crowd-input name="tag" label="Tag"></crowd-input>
  <crowd-text-area name="notes" label="Notes"></crowd-text-area></crowd-form>"""


def _kept(worker: Worker):
    return worker.page.evaluate(f"JSON.parse(localStorage.getItem({json.dumps(DRAFT_KEY + '#elements')}))")


def test_what_a_worker_chose_and_typed_survives_a_reload_until_the_answer_is_accepted(browser):  # noqa: F811
    worker = Worker(browser, EVERY_ELEMENT, globals_={"LOCAL_GT_DRAFT_KEY": DRAFT_KEY})
    worker.page.keyboard.press("2")  # the classifier's key for Burn Through
    worker.page.click("text=Too dim")
    worker.page.click("crowd-radio-button[value=No] label")
    worker.page.fill("crowd-input[name=tag] input", "seam <b>7</b>")
    worker.page.fill("crowd-text-area[name=notes] textarea", "line one\nline 🌊 two")
    worker.page.reload()
    worker.page.wait_for_function("document.querySelector('crowd-text-area textarea').value !== ''")
    assert worker.page.is_checked("input[value='Burn Through']") and worker.page.is_checked("crowd-checkbox[value=dim] input")
    assert not worker.page.is_checked("crowd-checkbox[value=blurry] input")
    assert worker.page.is_checked("crowd-radio-button[value=No] input")
    assert worker.page.input_value("crowd-input[name=tag] input") == "seam <b>7</b>"
    assert worker.page.inner_text(".local-gt-status") == ""  # all of it put back: nothing to say
    assert worker.submit() == ""
    assert worker.recorded() == {"weld": {"label": "Burn Through"}, "attributes:blurry": {"blurry": False},
                                 "attributes:dim": {"dim": True}, "valid:Yes": {"Yes": False},
                                 "valid:No": {"No": True}, "tag": "seam <b>7</b>",
                                 "notes": "line one\nline 🌊 two"}
    worker.page.goto(TASK_URL)  # accepted: the task page opened again holds nothing any more
    worker.page.wait_for_selector(".local-gt-submit")
    worker.page.wait_for_timeout(50)
    assert _kept(worker) is None and not worker.page.is_checked("input[value='Burn Through']")


def test_a_draft_that_no_longer_fits_the_page_is_left_out_and_a_refused_answer_keeps_it(browser):  # noqa: F811
    # (a box kept under the name all of a question's boxes had before they were named apart: "attributes")
    stale = {"crowd-classifier|weld||1": ["Cracked", "Not sure"], "crowd-checkbox|attributes|dim|1": ["dim"],
             "crowd-text-area|notes||1": {"not": "text"}, "crowd-input|tag||1": "<img src=x onerror=window.__pwned=1>"}
    worker = Worker(browser, EVERY_ELEMENT, globals_={"LOCAL_GT_DRAFT_KEY": DRAFT_KEY})
    worker.page.evaluate("([key, value]) => localStorage.setItem(key, value)", [DRAFT_KEY + "#elements", json.dumps(stale)])
    worker.page.reload()
    worker.page.wait_for_function("document.querySelector('crowd-input input').value !== ''")
    assert worker.page.eval_on_selector_all("crowd-classifier input:checked", "c => c.map(i => i.value)") == ["Not sure"]
    assert worker.page.input_value("crowd-text-area textarea") == ""
    assert worker.page.evaluate("window.__pwned") is None  # the kept text is a field's value, never markup
    assert not worker.page.is_checked("crowd-checkbox[value=dim] input")  # nothing of this page's holds it
    assert "could not be put back (the page has changed since): check every answer" in worker.page.inner_text(
        ".local-gt-status")  # the worker is told rather than left to submit without it
    worker.page.evaluate("([key, value]) => localStorage.setItem(key, value)", [DRAFT_KEY + "#elements", "{not json"])
    worker.page.reload()  # an unreadable draft: the page as new
    worker.page.wait_for_selector(".local-gt-submit")
    assert worker.page.eval_on_selector_all("crowd-classifier input:checked", "c => c.length") == 0
    # The server refuses the answer: the page says so and the draft stays for the next try.
    worker.page.route(SUBMIT_URL, lambda route: route.fulfill(status=409, content_type="application/json",
                                                              body=json.dumps({"error": "the task is closed"})))
    worker.page.click("text=Good Weld")
    assert "the task is closed" in worker.submit()
    assert _kept(worker)["crowd-classifier|weld||1"] == ["Good Weld"]


def test_a_preview_keeps_no_draft(browser):  # noqa: F811
    worker = Worker(browser, EVERY_ELEMENT, globals_={"LOCAL_GT_DRAFT_KEY": DRAFT_KEY,
                                                      "LOCAL_GT_PREVIEW": "This is a preview."})
    worker.page.click("text=Good Weld")
    worker.page.fill("crowd-text-area[name=notes] textarea", "typed in a preview")
    assert _kept(worker) is None


def test_marked_entities_survive_a_reload_and_a_draft_that_does_not_fit_the_text_is_left_out(browser):  # noqa: F811
    worker = Worker(browser, inject_labels(ENTITY_TEMPLATE, MENTIONS), {"text": ENTITY_TEXT},
                    globals_={"LOCAL_GT_DRAFT_KEY": DRAFT_KEY})
    view = "crowd-entity-annotation .local-gt-entity-text"
    sue = ENTITY_TEXT.index("Sue")
    worker.select(view, utf16(ENTITY_TEXT, sue), utf16(ENTITY_TEXT, sue + 3))
    worker.page.click("button[data-label=Person]")
    worker.page.click("text=Technology")
    worker.page.reload()
    worker.page.wait_for_selector("crowd-entity-annotation mark")
    assert worker.page.inner_text("crowd-entity-annotation mark") == "Sue"
    assert worker.page.is_checked("crowd-radio-button[value=tech] input")
    key = DRAFT_KEY + "#elements"
    for entities in ([{"label": "Person", "startOffset": 0, "endOffset": 4}, {"label": "Company", "startOffset": 2,
                                                                                 "endOffset": 6}],  # overlapping
                     [{"label": "Person", "startOffset": 0, "endOffset": 999}],  # past the end of the text
                     [{"label": "Mystery", "startOffset": 0, "endOffset": 2}]):  # not one of the labels
        worker.page.evaluate("([key, value]) => localStorage.setItem(key, value)",
                             [key, json.dumps({"#entities": entities})])
        worker.page.reload()
        worker.page.wait_for_selector(".local-gt-entity-text span")
        worker.page.wait_for_timeout(50)
        assert worker.page.eval_on_selector_all("crowd-entity-annotation mark", "m => m.length") == 0
    assert worker.submit("crowd-entity-annotation .local-gt-submit") == ""
    assert worker.recorded() == {"mentions": {"entities": []}, "subject:finance": {"finance": False},
                                 "subject:tech": {"tech": False}}


def test_a_server_that_does_not_answer_is_named_and_the_answer_can_be_sent_again(browser):  # noqa: F811
    worker = Worker(browser, EVERY_ELEMENT, globals_={"LOCAL_GT_DRAFT_KEY": DRAFT_KEY})
    def down(route):
        route.abort()  # as a stopped server or a dropped network: no HTTP answer at all
    worker.page.route(SUBMIT_URL, down)
    worker.page.click("text=Good Weld")
    said = worker.submit()
    assert "Could not reach the labeling server" in said and "Failed to fetch" not in said
    assert "press Submit again" in said and worker.posted == []
    worker.page.unroute(SUBMIT_URL, down)  # the server is back
    assert worker.submit() == ""
    assert worker.recorded()["weld"] == {"label": "Good Weld"}


def test_a_box_the_template_checks_and_the_worker_unchecks_stays_unchecked_after_a_reload(browser):  # noqa: F811
    worker = Worker(browser, """<crowd-form>
      <crowd-checkbox name="attributes:sharp" value="sharp" checked>Sharp</crowd-checkbox>
      <crowd-checkbox name="attributes:dim" value="dim">Too dim</crowd-checkbox></crowd-form>""",
                    globals_={"LOCAL_GT_DRAFT_KEY": DRAFT_KEY})
    worker.page.click("text=Sharp")
    worker.page.click("text=Too dim")
    worker.page.reload()
    worker.page.wait_for_function("document.querySelector('crowd-checkbox[value=dim] input').checked")
    assert not worker.page.is_checked("crowd-checkbox[value=sharp] input")
    assert worker.submit() == ""
    assert worker.recorded() == {"attributes:sharp": {"sharp": False}, "attributes:dim": {"dim": True}}
