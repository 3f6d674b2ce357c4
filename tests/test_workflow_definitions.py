"""The workflow model: definitions found by existing, questions that round-trip, labels written once."""
from __future__ import annotations

import pytest

import workflows
from gt_common.questions import (
    Checkbox, Classification, FreeText, MultiSelect, QuestionError, Spans, YesNo, questions_from_json, questions_to_json,
)
from workflows.model import DefinitionError, WorkflowDefinition, inject_labels, truth_key

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
    with pytest.raises(DefinitionError, match="workflow x: question names must be unique"):
        WorkflowDefinition(name="x", title="t", description="d", label_attribute_name="l",
                           questions=(FreeText(name="n"), YesNo(name="n")))


def test_labels_are_injected_into_a_template_escaped_for_an_attribute():
    question = Classification(name="c", choices=("Fish & Chips", "it's <b>"))
    page = inject_labels("<crowd-classifier categories='[[labels:c]]'>", (question,))
    assert page == "<crowd-classifier categories='[&quot;Fish &amp; Chips&quot;, &quot;it&#x27;s &lt;b&gt;&quot;]'>"
    with pytest.raises(DefinitionError, match="labels of 'missing'"):
        inject_labels("[[labels:missing]]", (question,))
    with pytest.raises(DefinitionError, match="labels of 'n'"):
        inject_labels("[[labels:n]]", (FreeText(name="n"),))


def test_truth_keys_name_objects_by_their_source():
    assert truth_key({"source": "s3://b/welding/datasets/dataset-01.json"}, 0) == "dataset-01"
    assert truth_key({"source-ref": "s3://b/pages/abstract-03.jpg"}, 2) == "abstract-03"
    assert truth_key({"source": "inline ticket text", "id": "T-17"}, 5) == "T-17"
    assert truth_key({"source": "inline ticket text"}, 5) == "5"
