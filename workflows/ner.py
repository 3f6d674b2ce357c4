"""Sections of science abstracts: beside the paper's first page, workers tag spans of the abstract
with their section, add notes, and judge whether it is a good abstract."""
from workflows import FreeText, LambdaPackage, Spans, WorkflowDefinition, YesNo

WORKFLOW = WorkflowDefinition(
    name="ner",
    title="Tag the sections of a science abstract",
    description="Select each sentence of the abstract, tag its section, add notes, and say whether it is a good abstract.",
    keywords=("text", "named entity recognition", "abstracts"),
    label_attribute_name="abstract-sections",
    questions=(
        Spans(name="abstract",
              span_labels=("Background", "Objectives", "Methods", "Results", "Limitations", "Conclusions")),
        YesNo(name="isGoodAbstract", tie="No"),  # a split vote does not pass a quality flag
        FreeText(name="notes"),
    ),
    pre_labeling=LambdaPackage(package="ner_pre_labeling", memory_mb=256, timeout_seconds=30),
    task_time_limit_seconds=1800,
)
