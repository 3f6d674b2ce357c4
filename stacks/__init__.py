"""The app's stacks: each composes the constructs of ``labeling_constructs`` for one purpose."""
from .environment_config import EnvironmentConfig, load_environment
from .ner_stack import NerLabelingStack
from .welding_stack import WeldingLabelingStack
from .workforce_stack import LabelingWorkforceStack

__all__ = ["EnvironmentConfig", "LabelingWorkforceStack", "NerLabelingStack", "WeldingLabelingStack", "load_environment"]
