"""The app's stacks: each composes the constructs of ``labeling_constructs`` for one workflow."""
from .environment_config import EnvironmentConfig, load_environment
from .welding_stack import WeldingLabelingStack

__all__ = ["EnvironmentConfig", "WeldingLabelingStack", "load_environment"]
