"""WeldingLabelingStack: classify welding runs from a camera image and three sensor plots."""
from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Stack
from constructs import Construct

from labeling_constructs import CustomLabelingWorkflow, LabelingFunction, ManifestBucket

from .environment_config import EnvironmentConfig
from .workflow_outputs import add_workflow_outputs

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO_ROOT / "sample_data" / "welding"
UI_TEMPLATE = REPO_ROOT / "ui_templates" / "welding.liquid.html"
LABEL_ATTRIBUTE_NAME = "welding-quality"


class WeldingLabelingStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, workteam_arn: str,
                 **kwargs) -> None:
        super().__init__(scope, construct_id, env=config.cdk_environment,
                         description="Ground Truth custom labeling: welding quality classification", **kwargs)
        self.data = ManifestBucket(
            self, "Data",
            sample_data_dir=SAMPLE_DATA,
            data_prefix="welding/",
            exclude=["truth.json"],  # the generator's answers stay out of the labeling bucket
            removal_policy=config.removal_policy,
        )
        self.workflow = CustomLabelingWorkflow(
            self, "Workflow",
            input_bucket=self.data,
            workteam_arn=workteam_arn,
            label_attribute_name=LABEL_ATTRIBUTE_NAME,
            ui_template_path=UI_TEMPLATE,
            pre_labeling=LabelingFunction(
                package="welding_pre_labeling", memory_size=1024, timeout=Duration.seconds(60)),
            consolidation=LabelingFunction(
                # 1,024 MB: a 100,000-object batch peaks at about 580 MB (bench/results/consolidation_handler.md).
                package="welding_consolidation", memory_size=1024, timeout=Duration.minutes(5)),
            derived_data_prefix="plots/",
            task_title="Classify the quality of a weld",
            task_description="Look at the weld image and its current, electrode position and voltage plots; pick the defect.",
            task_keywords=["welding", "image classification", "quality"],
            workers_per_object=config.workers_per_object,
            consolidation_method=config.consolidation_method,
            create_labeling_job=config.create_labeling_job,
        )
        add_workflow_outputs(self, self.data, self.workflow)
