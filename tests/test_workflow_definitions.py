"""The workflow model: definitions found by existing, questions that round-trip, labels written once."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import workflows
from gt_common.questions import (
    Checkbox, Classification, FreeText, MultiSelect, QuestionError, Spans, YesNo, questions_from_json, questions_to_json,
)
from local_ground_truth.form_rules import rules_of
from workflows.model import (
    DefinitionError, WorkflowDefinition, inject_labels, label_attribute_named_after, truth_key,
)

EVERY_KIND = (
    Classification(name="priority", choices=("Low", "High", "Not sure"), abstain="Not sure", method="majority-vote"),
    YesNo(name="valid", tie="No"),
    Checkbox(name="urgent", value="urgent"),
    MultiSelect(name="topics", choices=("billing", "login")),
    FreeText(name="notes"),
    Spans(name="mentions", span_labels=("Product", "Person")),
)


def test_every_workflow_module_is_found_with_its_parts():
    found = workflows.definitions()
    assert {"welding", "ner"} <= set(found)
    for definition in found.values():
        assert definition.template_path.is_file() and definition.truth_path.is_file()
        assert (definition.sample_data_dir / "manifest.jsonl").is_file()
    assert found["welding"].stack_name == "WeldingLabeling" and found["ner"].stack_name == "NerLabeling"
    with pytest.raises(DefinitionError, match="no workflow is named 'nope'; the workflows are: .*welding"):
        workflows.definition("nope")


def test_questions_round_trip_through_the_consolidation_functions_configuration():
    assert questions_from_json(questions_to_json(EVERY_KIND)) == EVERY_KIND


@pytest.mark.parametrize("text, problem", [
    ("not json", "not JSON"),
    ('{"kind": "yes-no"}', "JSON list"),
    ('[{"kind": "poll", "name": "x"}]', "no known kind"),
    ('[{"kind": "yes-no", "name": "x", "colour": "red"}]', "unknown fields"),
    ('[{"kind": "yes-no", "name": "x"}, {"kind": "free-text", "name": "x"}]', "repeated: x"),
    ('[{"kind": "classification", "name": "x", "choices": ["only"]}]', "at least 2 labels"),
    ('[]', "at least one question"),
])
def test_a_bad_configuration_is_named(text, problem):
    with pytest.raises(QuestionError, match=problem):
        questions_from_json(text)


def test_a_bad_definition_is_named():
    with pytest.raises(DefinitionError, match="workflow name 'Bad-Name'"):
        WorkflowDefinition(name="Bad-Name", title="t", description="d", label_attribute_name="l",
                           questions=(FreeText(name="n"),))
    for clashing in ("ner_", "_ner", "a__b", "welding_", "a" * 31):  # "ner_" would deploy as NerLabeling too
        with pytest.raises(DefinitionError, match="no '_' at the end or twice in a row"):
            WorkflowDefinition(name=clashing, title="t", description="d", label_attribute_name="l",
                               questions=(FreeText(name="n"),))
    # The consolidated label is {<question>: ..., "workers": n}: a question named so lost its answers to the count.
    with pytest.raises(QuestionError, match="question name 'workers' is the consolidated label's own key"):
        FreeText(name="workers")
    # The page collects answers into a JavaScript object, where "__proto__" is no key: every answer to it was lost.
    with pytest.raises(QuestionError, match="question name '__proto__' is special to the worker page's JavaScript, "
                                            "which would lose every answer under it: name the question otherwise"):
        FreeText(name="__proto__")
    with pytest.raises(QuestionError, match="question q: 'A', 'B' listed twice"):
        Classification(name="q", choices=("A", "B", "A", "C", "B"))
    with pytest.raises(DefinitionError, match="workflow x: question names must be unique"):
        WorkflowDefinition(name="x", title="t", description="d", label_attribute_name="l",
                           questions=(FreeText(name="n"), YesNo(name="n")))


@pytest.mark.parametrize("kind, fields, what", [
    (Classification, {"choices": ("A", "__proto__")}, "label"), (MultiSelect, {"choices": ("__proto__",)}, "label"),
    (Checkbox, {"value": "__proto__"}, "value"),
])
def test_a_label_the_pages_javascript_cannot_key_an_answer_by_is_refused(kind, fields, what):
    """A button submits {<its value>: true | false}, built as a JavaScript object: a choice labelled "__proto__" was
    lost, and the page's answer refused."""
    with pytest.raises(QuestionError, match=f"question c: {what} '__proto__' is special to the worker page's "
                                            "JavaScript, which would lose the answer of its button: write it otherwise"):
        kind(name="c", **fields)


@pytest.mark.parametrize("fields, message", [
    ({"label_attribute_name": "my_label"}, "label_attribute_name 'my_label' must be ASCII letters and digits"),
    ({"label_attribute_name": "has space"}, "label_attribute_name 'has space' must be ASCII letters and digits"),
    ({"label_attribute_name": "ünï"}, "label_attribute_name 'ünï' must be ASCII letters and digits"),
    ({"label_attribute_name": "labels-metadata"}, "label_attribute_name 'labels-metadata' must not end in -metadata"),
    ({"keywords": ("a b_c",)}, "keywords entry 'a b_c' must be words of ASCII letters and digits"),
    ({"keywords": ("k" * 31,)}, "keywords entry '" + "k" * 31 + "' is 31 characters; at most 30"),
    ({"keywords": tuple("abcdef")}, "keywords has 6 keywords; at most 5"),
    ({"keywords": "welding"}, "keywords must be a list of keywords, not 'welding'"),
    ({"title": ""}, "title must be a non-empty string"),
    ({"description": "d" * 256}, "description is 256 characters; at most 255"),
])
def test_a_definitions_job_settings_are_refused_with_the_workflow_named(fields, message):
    with pytest.raises(DefinitionError, match=f"^workflow x: {re.escape(message)}"):
        WorkflowDefinition(**{"name": "x", "title": "t", "description": "d", "label_attribute_name": "labels",
                              "questions": (FreeText(name="n"),), **fields})


def test_labels_are_injected_into_a_template_escaped_for_an_attribute():
    question = Classification(name="c", choices=("Fish & Chips", "it's <b>"))
    page = inject_labels("<crowd-classifier categories='[[labels:c]]'>", (question,))
    assert page == "<crowd-classifier categories='[&quot;Fish &amp; Chips&quot;, &quot;it&#x27;s &lt;b&gt;&quot;]'>"
    with pytest.raises(DefinitionError, match="labels of 'missing'"):
        inject_labels("[[labels:missing]]", (question,))
    with pytest.raises(DefinitionError, match="labels of 'n'"):
        inject_labels("[[labels:n]]", (FreeText(name="n"),))
    # A misspelt form would reach workers as text and leave the question without labels: named, with the forms.
    with pytest.raises(DefinitionError, match=r"workflow w: the template has \[\[radio-button:c\]\], which is no "
                                              r"marker; write \[\[labels:Q\]\]"):
        inject_labels("<crowd-radio-group>[[radio-button:c]]</crowd-radio-group>", (question,), "w")


def test_a_page_part_is_written_into_every_template_that_asks_for_it_and_an_unknown_one_is_named():
    """Ground Truth takes one self-contained template per workflow: the image viewer is written once
    (``ui_templates/parts/``) and put into each page at synth, never copied by hand."""
    from workflows.model import PARTS_DIR, page_parts

    viewer = (PARTS_DIR / "image-viewer.html").read_text(encoding="utf-8").rstrip("\n")
    found = workflows.definitions()
    for name in ("welding", "ner"):
        source, page = found[name].template_path.read_text(encoding="utf-8"), found[name].worker_template()
        assert source.count("[[part:image-viewer]]") == 1 and "dialog.showModal" not in source
        assert page.count(viewer) == 1 and "[[part:" not in page and "data-zoomable" in page
    assert "image-viewer" in page_parts()
    assert inject_labels("<p>[[part:image-viewer]]</p>", ()) == f"<p>{viewer}</p>"
    with pytest.raises(DefinitionError, match=r"^workflow w: the template asks for the part 'zoom', which is not in "
                                              r"ui_templates/parts/ \(its parts: image-viewer\)"):
        inject_labels("[[part:zoom]]", (), "w")
    with pytest.raises(DefinitionError, match=r"\[\[part:Image_Viewer\]\], which is no marker; .*\[\[part:P\]\] "
                                              r"\(parts: image-viewer\)"):
        inject_labels("[[part:Image_Viewer]]", (), "w")


def test_labels_and_titles_that_read_like_markers_are_shown_as_typed():
    """What a marker puts in is never read for markers again: a label "[[max-chars:n]]" became "50" on the page (and
    the workers' answers, "50", matched no label), "[[title]]" became the title, "[[part:...]]" was refused."""
    questions = (Classification(name="c", choices=("[[part:image-viewer]]", "[[max-chars:n]]", "[[title]]")),
                 FreeText(name="n", max_chars=50))
    page = inject_labels("<h1>[[title]]</h1><crowd-classifier name='c' categories='[[labels:c]]'></crowd-classifier>"
                         "<crowd-input name='n' max-length='[[max-chars:n]]'></crowd-input>", questions,
                         texts={"title": "[[labels:c]]"})
    assert page == ("<h1>[[labels:c]]</h1><crowd-classifier name='c' categories='[&quot;[[part:image-viewer]]&quot;, "
                    "&quot;[[max-chars:n]]&quot;, &quot;[[title]]&quot;]'></crowd-classifier>"
                    "<crowd-input name='n' max-length='50'></crowd-input>")


def test_a_question_name_the_question_types_accept_is_one_a_marker_names():
    """A question's name is letters, digits, '-' or '_' in any script (``Question``: "qualité", "größe"), but the
    markers read only ASCII ones: the scaffold wrote [[radio-buttons:qualité]], synth called it "no marker", and
    the scaffold took the workflow back with a page of test output."""
    from workflows.scaffold import Scaffold

    questions = (Classification(name="qualité", choices=("Bon", "Moyen", "Mauvais")),
                 MultiSelect(name="größe", choices=("S", "M")), YesNo(name="x²"), FreeText(name="备注", max_chars=50))
    page = inject_labels("<crowd-classifier categories='[[labels:qualité]]'>"
                         "<crowd-text-area name='备注' max-length='[[max-chars:备注]]'></crowd-text-area>", questions)
    assert "categories='[&quot;Bon&quot;, &quot;Moyen&quot;, &quot;Mauvais&quot;]'" in page
    assert "max-length='50'" in page
    definition = WorkflowDefinition(name="fr", title="t", description="d", label_attribute_name="l",
                                    questions=questions)
    scaffolded = inject_labels(Scaffold(definition, Path(".")).template(), questions, "fr", whole_page=True,
                               texts={"title": "t", "description": "d"})
    fields = rules_of(scaffolded).fields
    assert {"qualité:Bon", "größe:M", "x²:Yes", "备注"} <= set(fields)


def test_each_button_a_marker_writes_has_a_name_of_its_own_and_shared_names_are_refused():
    """Ground Truth submits one object per crowd-radio-button or crowd-checkbox, keyed by its name: buttons that
    shared a question's name would keep one answer (the expert review chain decided nothing on AWS)."""
    questions = (YesNo(name="ok"), MultiSelect(name="m", choices=("Red", "Dark & <b>")))
    page = inject_labels("<crowd-radio-group>[[radio-buttons:ok]]</crowd-radio-group>[[checkboxes:m]]", questions, "w")
    assert '<crowd-radio-button name="ok:Yes" value="Yes">Yes</crowd-radio-button>' in page
    assert '<crowd-checkbox name="m:Dark &amp; &lt;b&gt;" value="Dark &amp; &lt;b&gt;">' in page
    assert sorted(rules_of(page).fields) == ["m:Dark & <b>", "m:Red", "ok:No", "ok:Yes"]
    for shared in ('<crowd-radio-button name="ok" value="Yes"></crowd-radio-button>'
                   '<crowd-radio-button name="ok" value="No"></crowd-radio-button>',
                   '<crowd-checkbox name="m" value="Red"></crowd-checkbox><crowd-checkbox name="m"></crowd-checkbox>'):
        with pytest.raises(DefinitionError, match="workflow w: the template has more than one crowd-radio-button or "
                                                  "crowd-checkbox named '(ok|m)'; Ground Truth submits one object"):
            inject_labels(shared, questions, "w")


def test_the_title_and_description_are_written_only_in_the_definition():
    """The scaffold's heading repeated the title: a title changed in the definition changed the portal's task list
    and left every task page with the old one."""
    question = FreeText(name="n", max_chars=10)
    texts = {"title": "Tag <b> & co", "description": "Read it."}
    page = inject_labels("<h2>[[title]]</h2><p>[[description]]</p>", (question,), "w", texts=texts)
    assert page == "<h2>Tag &lt;b&gt; &amp; co</h2><p>Read it.</p>"
    with pytest.raises(DefinitionError, match="workflow w: the template asks for the title, which only a workflow"):
        inject_labels("<h2>[[title]]</h2>", (question,), "w")


def test_a_page_with_no_field_for_a_question_is_refused_at_synth():
    """A misspelt name (condtion) put every answer under another key: on AWS no object got its label, and the
    local runner refused every answer for a field the page does not have."""
    questions = (Classification(name="condition", choices=("New", "Used")), FreeText(name="note", max_chars=100))
    page = ("<crowd-classifier name='condtion' categories='[[labels:condition]]'></crowd-classifier>"
            "<crowd-text-area name='note' max-length='[[max-chars:note]]'></crowd-text-area>")
    with pytest.raises(DefinitionError, match=r"workflow w: the template has no field for condition \(fields: "
                                              r"condtion, note\): name the element that asks each question after it"):
        inject_labels(page, questions, "w", whole_page=True)
    assert inject_labels(page.replace("condtion", "condition"), questions, "w", whole_page=True)
    computed = "<crowd-input name='{{ task.input.field }}'></crowd-input>" + page  # a name Liquid computes: unknown
    assert inject_labels(computed, questions, "w", whole_page=True)


@pytest.mark.parametrize("markup, asked", [
    ("[[checkboxes:c]]", "question c (classification) with crowd-checkbox, which cannot give its answer: ask it with "
                         "crowd-classifier or crowd-radio-button"),
    ("<crowd-radio-group>[[radio-buttons:m]]</crowd-radio-group>",
     "question m (multi-select) with crowd-radio-button"),
    ("<crowd-input name='box'></crowd-input>", "question box (checkbox) with crowd-input"),
    ("<crowd-classifier name='note' categories='[\"a\", \"b\"]'></crowd-classifier>",
     "question note (free-text) with crowd-classifier"),
])
def test_a_question_asked_with_an_element_that_cannot_give_its_answer_is_refused_at_synth(markup, asked):
    """A classification turned into a multi-select's checkboxes (or back) passed synth: workers ticked two boxes and
    were refused ("2 radio buttons on"), or could only ever choose one of a multi-select's choices."""
    questions = (Classification(name="c", choices=("Good", "Bad")), MultiSelect(name="m", choices=("Red", "Green")),
                 Checkbox(name="box"), FreeText(name="note"))
    with pytest.raises(DefinitionError, match=re.escape(f"workflow w: the template asks {asked}")):
        inject_labels(markup, questions, "w")
    assert inject_labels("<crowd-radio-group>[[radio-buttons:c]]</crowd-radio-group>[[checkboxes:m]]"
                         "<crowd-checkbox name='box' value='checked'></crowd-checkbox>"
                         "<input type='hidden' name='note'>", questions, "w")  # a page's own input: any shape


def test_an_entity_annotation_inside_crowd_form_is_refused_at_synth():
    """The element carries its own form and Submit: inside crowd-form the page showed "cannot be submitted" and no
    worker could ever answer, while synth passed."""
    question = Spans(name="ents", span_labels=("Product", "Date"))
    inside = ("<crowd-form><p>x</p><crowd-entity-annotation name='ents' labels='[[entity-labels:ents]]' text='t'>"
              "</crowd-entity-annotation></crowd-form>")
    with pytest.raises(DefinitionError, match=re.escape(
            "the template has crowd-entity-annotation 'ents' inside crowd-form; it carries its own form")):
        inject_labels(inside, (question,), "w")
    beside = ("<crowd-form><crowd-input name='n'></crowd-input></crowd-form><crowd-form/>"
              "<crowd-entity-annotation name='ents' labels='[[entity-labels:ents]]' text='t'></crowd-entity-annotation>")
    assert inject_labels(beside, (question,), "w")


@pytest.mark.parametrize("markup, offered", [
    ('<crowd-radio-button name="c" value="Goood">Good</crowd-radio-button>', "'Goood' for question c"),
    ('<crowd-classifier name="c" categories=\'["Good", "Bad", "Meh"]\'></crowd-classifier>', "'Meh' for question c"),
    ('<crowd-checkbox name="m" value="Blue">Blue</crowd-checkbox>', "'Blue' for question m"),
    ('<crowd-checkbox name="box">Box</crowd-checkbox>', "'on' for question box, which is not one of its labels "
                                                        "\\(checked\\)"),
])
def test_a_label_written_by_hand_that_is_not_the_questions_is_refused_at_synth(markup, offered):
    """The page would submit answers the server refuses: a worker could never finish, while headless passed."""
    questions = (Classification(name="c", choices=("Good", "Bad")), MultiSelect(name="m", choices=("Red", "Green")),
                 Checkbox(name="box"))
    with pytest.raises(DefinitionError, match=f"workflow w: the template offers {offered}"):
        inject_labels(markup, questions, "w")
    liquid = '<crowd-radio-button name="c" value="{{ task.input.choice }}">x</crowd-radio-button>'
    assert inject_labels(liquid + "[[radio-buttons:c]][[checkboxes:m]]", questions, "w")  # computed values pass


@pytest.mark.parametrize("field", [
    '<crowd-text-area name="n" max-length="{}"></crowd-text-area>', '<crowd-input name="n" max-length="{}">',
    '<textarea name="n" maxlength="{}"></textarea>', '<input name="n" type="text" maxlength="{}">',
])
def test_a_text_field_takes_at_most_what_its_question_keeps(field):
    """Consolidation keeps max_chars of a text: a field that takes more let a worker's last words be cut without a
    word. The marker writes the definition's number in."""
    notes = FreeText(name="n", max_chars=500)
    page = inject_labels(field.format("[[max-chars:n]]"), (notes,), "w")
    assert page == field.format("500") and rules_of(page).fields["n"].max_length == 500
    assert inject_labels(field.format("200"), (notes,), "w")  # less is the page's choice
    for written, room in (("501", "501"), ("", "any number of")):
        markup = field.format(written).replace(' max-length=""', "").replace(' maxlength=""', "")
        with pytest.raises(DefinitionError, match=f"workflow w: the template lets workers write {room} characters in "
                                                  "n, which keeps 500 \\(max_chars\\): give the field "
                                                  'max-length="\\[\\[max-chars:Q\\]\\]"'):
            inject_labels(markup, (notes,), "w")
    with pytest.raises(DefinitionError, match="workflow w: the template asks for the max_chars of 'c', which is not a "
                                              "free-text question"):
        inject_labels(field.format("[[max-chars:c]]"), (notes, YesNo(name="c")), "w")
    # A hidden field a page's script fills is not typed into: no limit asked of it.
    assert inject_labels('<input type="hidden" name="n">', (notes,), "w")


def test_the_server_refuses_a_text_longer_than_the_pages_field_takes():
    rules = rules_of('<crowd-text-area name="n" max-length="5"></crowd-text-area>')
    assert rules.problems({"n": "12345"}) == []
    assert rules.problems({"n": "123456"}) == ["n is 6 characters, over the page's 5"]
    assert rules.problems({"n": "é" * 5}) == []  # characters, not bytes


def test_two_workflows_that_would_deploy_as_one_stack_are_refused(monkeypatch):
    import importlib
    import sys
    import types

    twin = types.ModuleType("workflows.a_1")
    twin.WORKFLOW = WorkflowDefinition(name="a_1", title="t", description="d", label_attribute_name="l",
                                       questions=(FreeText(name="n"),))
    other = types.ModuleType("workflows.a1")
    other.WORKFLOW = WorkflowDefinition(name="a1", title="t", description="d", label_attribute_name="l",
                                        questions=(FreeText(name="n"),))
    real_iter = workflows.pkgutil.iter_modules
    monkeypatch.setattr(workflows.pkgutil, "iter_modules", lambda path: [
        *real_iter(path), types.SimpleNamespace(name="a1"), types.SimpleNamespace(name="a_1")])
    monkeypatch.setitem(sys.modules, "workflows.a1", other)
    monkeypatch.setitem(sys.modules, "workflows.a_1", twin)
    assert importlib.import_module("workflows.a1") is other
    workflows.definitions.cache_clear()  # (a raise is not cached: the next call reads the real package again)
    with pytest.raises(DefinitionError, match="workflows 'a1' and 'a_1' would both deploy as the stack A1Labeling"):
        workflows.definitions()


def test_truth_keys_name_objects_by_their_source():
    assert truth_key({"source": "s3://b/welding/datasets/dataset-01.json"}, 0) == "dataset-01"
    assert truth_key({"source-ref": "s3://b/pages/abstract-03.jpg"}, 2) == "abstract-03"
    assert truth_key({"source": "inline ticket text", "id": "T-17"}, 5) == "T-17"
    assert truth_key({"source": "inline ticket text"}, 5) == "5"


@pytest.mark.parametrize("name, question, problem", [
    ("broken_flow", "Classification(name='tone', choices=('Good', 'Bad'), abstain='Unsure')",
     "question tone: abstain label 'Unsure' is not one of its choices"),
    ("broken_flow", "Classification(name='tone', choices=('Good', 'Bad', 'Unsure'), abstain='Unsure', tie='Unsure')",
     "question tone: the tie label 'Unsure' is its abstain label, which no tie goes to"),  # accepted, and never used
    ("broken_flow", "Classification(name='tone', choice=('Good', 'Bad'))",
     "TypeError: Classification.__init__() got an unexpected keyword argument 'choice'"),
    ("Broken", "FreeText(name='n')", "workflow name 'Broken' must be 1-30 lower-case letters"),
])
def test_a_definition_that_does_not_hold_is_named_with_its_file(tmp_path, monkeypatch, name, question, problem):
    """A definition is written by hand: a typo in it stopped the scaffold and the app with a traceback, and a name
    that does not hold was named without the file it is in."""
    (tmp_path / "broken_flow.py").write_text(
        "from workflows import Classification, FreeText, WorkflowDefinition\n"
        f"WORKFLOW = WorkflowDefinition(name={name!r}, title='t', description='d', label_attribute_name='l',\n"
        f"    questions=({question},))\n")
    monkeypatch.setattr(workflows, "__path__", [*workflows.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "workflows.broken_flow", raising=False)
    workflows.definitions.cache_clear()  # another test in this process may have found the workflows already
    with pytest.raises(DefinitionError, match=f"^{re.escape(f'workflows/broken_flow.py: {problem}')}"):
        workflows.definitions()


@pytest.mark.parametrize("page, texts, questions, what", [
    ("<h2>[[title]]</h2>", {"title": "Pick {{ x }}"}, (FreeText(name="n", max_chars=10),), "the title 'Pick {{ x }}'"),
    ("<p>[[description]]</p>", {"description": "Desc {% raw %} x"}, (FreeText(name="n", max_chars=10),),
     "the description"),
    ("<crowd-radio-group>[[radio-buttons:kind]]</crowd-radio-group>", {},
     (Classification(name="kind", choices=("{{ task.input.text }}", "b")),), "question kind's label"),
])
def test_liquid_in_a_label_title_or_description_is_refused_at_synth(page, texts, questions, what):
    """The worker page is a Liquid template on AWS too: a label "{{ task.input.text }}" showed workers the task's
    text as a choice, and "{% raw %}" in a description stopped every task page."""
    with pytest.raises(DefinitionError, match=re.escape(f"workflow w: {what}")):
        inject_labels(page, questions, "w", texts=texts)


@pytest.mark.parametrize("fields, what", [
    ({"title": "Pick {{ x }}"}, "the title 'Pick {{ x }}'"),
    ({"description": "Desc {% raw %} x"}, "the description 'Desc {% raw %} x'"),
    ({"questions": (Classification(name="kind", choices=("{{ task.input.text }}", "b")),)},
     "question kind's label '{{ task.input.text }}'"),
    ({"questions": (MultiSelect(name="tags", choices=("a", "{%if%}")),)}, "question tags's label '{%if%}'"),
])
def test_liquid_in_a_label_title_or_description_is_refused_when_the_definition_is_made(fields, what):
    """Refused only when synth filled in the template: the scaffold had written the workflow and run a synth first,
    and named it in a page of traceback."""
    with pytest.raises(DefinitionError, match=f"^{re.escape(f'workflow w: {what} holds')} '{{{{' or '{{%', which the "
                                              "worker page's Liquid would run"):
        WorkflowDefinition(**{"name": "w", "title": "t", "description": "d", "label_attribute_name": "l",
                              "questions": (FreeText(name="n"),), **fields})


@pytest.mark.parametrize("name, attribute", [("ticket_triage", "ticket-triage"), ("ref", "ref"), ("xref", "xref"),
                                             ("metadata", "metadata"), ("ref_count", "ref-count")])
def test_a_label_attribute_is_named_after_its_workflow(name, attribute):
    assert label_attribute_named_after(name) == attribute


@pytest.mark.parametrize("name", ["image_ref", "x_metadata"])
def test_a_name_whose_label_attribute_ground_truth_reserves_is_refused_as_the_names_fault(name):
    """The README's rule let "image_ref" through, and the definition refused label_attribute_name 'image-ref', a
    setting the user never gave."""
    with pytest.raises(DefinitionError, match=re.escape(
            f"workflow {name}: a workflow name can't end in _metadata or _ref: Ground Truth reserves the endings "
            f"-metadata and -ref of a label attribute, and the label attribute is named after the workflow "
            f"('{name.replace('_', '-')}'): name the workflow otherwise")):
        label_attribute_named_after(name)
    with pytest.raises(DefinitionError, match="workflow name 'Image_ref' must be 1-30 lower-case letters"):
        label_attribute_named_after("Image_ref")  # what a name is comes first
