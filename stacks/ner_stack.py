"""NerLabelingStack: tag the sections of science abstracts, beside each paper's first page."""
from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Stack
from constructs import Construct

from labeling_constructs import CustomLabelingWorkflow, LabelingFunction, ManifestBucket

from .environment_config import EnvironmentConfig
from .workflow_outputs import add_workflow_outputs

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO_ROOT / "sample_data" / "ner"
UI_TEMPLATE = REPO_ROOT / "ui_templates" / "ner.liquid.html"
LABEL_ATTRIBUTE_NAME = "abstract-sections"


class NerLabelingStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, workteam_arn: str,
                 **kwargs) -> None:
        super().__init__(scope, construct_id, env=config.cdk_environment,
                         description="Ground Truth custom labeling: sections of science abstracts (NER)", **kwargs)
        self.data = ManifestBucket(
            self, "Data",
            sample_data_dir=SAMPLE_DATA,
            data_prefix="ner/",
            exclude=["truth.json"],  # the true spans stay out of the labeling bucket
            removal_policy=config.removal_policy,
        )
        self.workflow = CustomLabelingWorkflow(
            self, "Workflow",
            input_bucket=self.data,
            workteam_arn=workteam_arn,
            label_attribute_name=LABEL_ATTRIBUTE_NAME,
            ui_template_path=UI_TEMPLATE,
            pre_labeling=LabelingFunction(package="ner_pre_labeling", memory_size=256, timeout=Duration.seconds(30)),
            consolidation=LabelingFunction(package="ner_consolidation", memory_size=1024, timeout=Duration.minutes(5)),
            task_title="Tag the sections of a science abstract",
            task_description="Select each sentence of the abstract, tag its section, add notes, and say whether it is a good abstract.",
            task_keywords=["text", "named entity recognition", "abstracts"],
            task_time_limit=Duration.minutes(30),
            workers_per_object=config.workers_per_object,
            consolidation_method=config.consolidation_method,
            create_labeling_job=config.create_labeling_job,
        )
        add_workflow_outputs(self, self.data, self.workflow)
