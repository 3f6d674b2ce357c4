"""Welding quality: workers classify a run from a camera image and plots of its current, electrode
position and voltage, drawn from the run's sensor CSV by the pre-labeling Lambda."""
from workflows import Classification, LambdaPackage, WorkflowDefinition

# The classes, named once: the sample-data generator (scripts/generate_welding_data.py) keys what each
# looks like by these.
GOOD_WELD = "Good Weld"
BURN_THROUGH = "Burn Through"
CONTAMINATION = "Contamination"
LACK_OF_FUSION = "Lack of Fusion"
LACK_OF_SHIELDING_GAS = "Lack of Shielding Gas"
HIGH_TRAVEL_SPEED = "High Travel Speed"
NOT_SURE = "Not sure"

WORKFLOW = WorkflowDefinition(
    name="welding",
    title="Classify the quality of a weld",
    description="Look at the weld image and its current, electrode position and voltage plots; pick the defect.",
    keywords=("welding", "image classification", "quality"),
    label_attribute_name="welding-quality",
    questions=(
        Classification(
            name="WeldingClassification",
            choices=(GOOD_WELD, BURN_THROUGH, CONTAMINATION, LACK_OF_FUSION, LACK_OF_SHIELDING_GAS,
                     HIGH_TRAVEL_SPEED, NOT_SURE),
            abstain=NOT_SURE,
        ),
    ),
    # Drawing plots needs room: matplotlib, numpy and a 20,000-row CSV; its cache goes to /tmp
    # (Lambda's home folder is read-only).
    pre_labeling=LambdaPackage(package="welding_pre_labeling", memory_mb=1024, timeout_seconds=60,
                               environment={"MPLCONFIGDIR": "/tmp"}),
    derived_data_prefix="plots/",
)
