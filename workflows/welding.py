"""Welding quality: workers classify a run from a camera image and plots of its current, electrode
position and voltage, drawn from the run's sensor CSV by the pre-labeling Lambda."""
from workflows import Classification, LambdaPackage, WorkflowDefinition

WORKFLOW = WorkflowDefinition(
    name="welding",
    title="Classify the quality of a weld",
    description="Look at the weld image and its current, electrode position and voltage plots; pick the defect.",
    keywords=("welding", "image classification", "quality"),
    label_attribute_name="welding-quality",
    questions=(
        Classification(
            name="WeldingClassification",
            choices=("Good Weld", "Burn Through", "Contamination", "Lack of Fusion", "Lack of Shielding Gas",
                     "High Travel Speed", "Not sure"),
            abstain="Not sure",
        ),
    ),
    # Drawing plots needs room: matplotlib, numpy and a 20,000-row CSV; its cache goes to /tmp
    # (Lambda's home folder is read-only).
    pre_labeling=LambdaPackage(package="welding_pre_labeling", memory_mb=1024, timeout_seconds=60,
                               environment={"MPLCONFIGDIR": "/tmp"}),
    derived_data_prefix="plots/",
)
