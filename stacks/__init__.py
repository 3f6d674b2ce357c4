"""The app's stacks: the shared workforce, and one ``WorkflowStack`` per workflow definition."""
from .environment_config import EnvironmentConfig, load_environment
from .workflow_stack import WorkflowStack
from .workforce_stack import LabelingWorkforceStack

__all__ = ["EnvironmentConfig", "LabelingWorkforceStack", "WorkflowStack", "load_environment"]
