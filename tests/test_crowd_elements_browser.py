"""The offline crowd elements (local_ground_truth/static/crowd-html-elements.js) in a real headless Chromium.

For each element the question types use, a small template is rendered through the runner's Liquid
environment, opened with the offline elements, answered as a worker would (clicks, typing, a text
selection), and submitted: the JSON the page sends must be exactly the element's documented answer
shape, and pass the server's own reading and form rules (``server.parse_answer``, ``form_rules``), i.e.
be what the server records. A form the real crowd-form would not submit sends nothing.
"""
from __future__ import annotations

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

    def __init__(self, browser, template: str, task_input: dict | None = None) -> None:  # noqa: F811
        self.html = render_source(SCRIPT + template, task_input or {}, lambda uri: "https://signed.test/x")
        self.dialogs: list[str] = []
        self.page = page_for(browser)
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
        <crowd-radio-button name="valid" value="Yes">Yes</crowd-radio-button>
        <crowd-radio-button name="valid" value="No">No</crowd-radio-button>
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
    assert worker.recorded() == {"valid": {"Yes": False, "No": True}, "btn1": {"yes": False}, "btn2": {"no": True}}


def test_crowd_checkbox_submits_true_or_false_per_value_and_a_required_one_must_be_checked(browser):  # noqa: F811
    worker = Worker(browser, """<crowd-form>
      <div><crowd-checkbox name="image_attributes" value="blurry">Blurry</crowd-checkbox></div>
      <div><crowd-checkbox name="image_attributes" value="dim" checked>Too dim</crowd-checkbox></div>
      <div><crowd-checkbox name="image_attributes" value="exposed">Too bright</crowd-checkbox></div>
      <crowd-checkbox name="urgent" value="urgent">Urgent</crowd-checkbox>
      <crowd-checkbox name="verified" required>Instructions were clear</crowd-checkbox></crowd-form>""")
    assert "Instructions were clear" in worker.submit() and worker.posted == []
    worker.page.click("text=Blurry")
    worker.page.click("text=Instructions were clear")
    assert worker.submit() == ""
    assert worker.recorded() == {"image_attributes": {"blurry": True, "dim": True, "exposed": False},
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
    <crowd-radio-button name="subject" value="finance">Finance</crowd-radio-button>
    <crowd-radio-button name="subject" value="tech">Technology</crowd-radio-button>
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
                      "subject": {"finance": False, "tech": True}}
    assert [ENTITY_TEXT[e["startOffset"]:e["endOffset"]] for e in answer["mentions"]["entities"]] == ["Sue", "Amazon"]


def test_crowd_entity_annotation_shows_hostile_text_as_text(browser):  # noqa: F811
    hostile = 'a </crowd-entity-annotation><img src=x onerror="window.__pwned=1"> "quoted" \' b'
    worker = Worker(browser, inject_labels(ENTITY_TEMPLATE, MENTIONS), {"text": hostile})
    worker.page.wait_for_timeout(150)
    assert worker.page.inner_text("crowd-entity-annotation .local-gt-entity-text") == hostile
    assert worker.page.evaluate("window.__pwned") is None and worker.dialogs == []


@pytest.mark.parametrize("template, reason", [
    ("<crowd-form>" + ENTITY_TEMPLATE + "</crowd-form>", "must not be inside crowd-form"),
    (ENTITY_TEMPLATE.replace("[[entity-labels:mentions]]", "[[labels:mentions]]"), "objects with a"),
])
def test_crowd_entity_annotation_used_against_its_element_page_says_why(browser, template, reason):  # noqa: F811
    worker = Worker(browser, inject_labels(template, MENTIONS), {"text": "Sue"})
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
