"""The project's labeling workflows: every module here that defines ``WORKFLOW`` is one.

``definitions()`` finds them (a new ``workflows/<name>.py`` is registered by existing); the app makes
a stack of each, the local runner and the tests take them from here. The workflow model lives in
``model.py`` and the question types in ``lambda_src/gt_common/questions.py`` (the consolidation
function reads the same types), which is why ``lambda_src`` is put on the import path here.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import Optional

from labeling_constructs.lambda_dependencies import import_lambda_src  # imports no aws_cdk

import_lambda_src()

from gt_common.questions import (  # noqa: E402
    Checkbox, Classification, FreeText, MultiSelect, Question, Spans, YesNo,
)
from workflows.model import DefinitionError, LambdaPackage, WorkflowDefinition  # noqa: E402

NOT_WORKFLOWS = {"model", "scaffold"}


def workflow_modules() -> list[str]:
    """The modules of this package that may define a workflow (``workflows/<module>.py``), by name."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in NOT_WORKFLOWS)


def workflow_of(module: str) -> Optional[WorkflowDefinition]:
    """The workflow ``workflows/<module>.py`` defines (its ``WORKFLOW``), None if it defines none. A module that
    cannot be imported or whose definition does not hold is a DefinitionError naming the file and the problem."""
    try:
        definition = getattr(importlib.import_module(f"{__name__}.{module}"), "WORKFLOW", None)
    except Exception as error:  # written by hand: a question that does not hold (QuestionError), a typo, ...
        problem = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
        raise DefinitionError(f"workflows/{module}.py: {problem}") from error
    if definition is not None and not isinstance(definition, WorkflowDefinition):
        raise DefinitionError(f"workflows/{module}.py: WORKFLOW is not a WorkflowDefinition")
    return definition


@lru_cache(maxsize=1)
def definitions() -> dict[str, WorkflowDefinition]:
    """Every workflow defined in this package, by name."""
    found: dict[str, WorkflowDefinition] = {}
    for module in workflow_modules():
        definition = workflow_of(module)
        if definition is None:
            continue
        if definition.name in found:
            raise DefinitionError(f"two workflows are named {definition.name!r}")
        clash = [other.name for other in found.values() if other.deploys_as(definition)]
        if clash:
            raise DefinitionError(f"workflows {clash[0]!r} and {definition.name!r} would both deploy as the stack "
                                  f"{definition.stack_name}: rename one")
        found[definition.name] = definition
    return found


def definition(name: str) -> WorkflowDefinition:
    known = definitions()
    if name not in known:
        raise DefinitionError(f"no workflow is named {name!r}; the workflows are: {', '.join(sorted(known))}")
    return known[name]


__all__ = [
    "Checkbox", "Classification", "DefinitionError", "FreeText", "LambdaPackage", "MultiSelect", "Question",
    "Spans", "WorkflowDefinition", "YesNo", "definition", "definitions", "workflow_modules", "workflow_of",
]
