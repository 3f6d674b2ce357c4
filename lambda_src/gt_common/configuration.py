"""A workflow function's configuration: its environment, read and checked at each invocation.

The stack sets on pre-labeling, from the workflow's definition (``workflows/<name>.py``):

- ``DERIVED_DATA_PREFIX`` (``DERIVED_DATA_PREFIX_ENV``): the bucket prefix under which pre-labeling writes
  what it derives from the data (drawings of it, say); required by a pre-labeling function that writes any.

and on consolidation:

- ``WORKFLOW_QUESTIONS`` (``questions.QUESTIONS_ENV``): the questions, ``questions_to_json`` of the
  definition's; required.
- ``CONSOLIDATION_METHOD``: the deployment's default method (one of ``questions.METHODS``,
  ``dawid-skene`` when unset); a question's own ``method`` overrides it.
- ``TASK_RECORDS_URI`` (``task_record.RECORDS_ENV``): where pre-labeling keeps what it showed each
  worker (optional; ``shown_text`` reads it).

A wrong setting is the deployment's fault, not a worker's: it raises ``ConfigurationError`` naming
the variable, and the invocation fails instead of skipping every answer.
"""
from __future__ import annotations

import os
from typing import Mapping

from .questions import DAWID_SKENE, METHOD_ENV, METHODS, QUESTIONS_ENV, Question, QuestionError, questions_from_json


class ConfigurationError(ValueError):
    """The function's configuration (not a worker's answer) is wrong; the invocation must fail."""


#: The variable the ``CustomLabelingWorkflow`` construct sets on pre-labeling: its derived-data prefix.
DERIVED_DATA_PREFIX_ENV = "DERIVED_DATA_PREFIX"


def configured_derived_data_prefix(environ: Mapping[str, str] = os.environ) -> str:
    """The prefix pre-labeling writes derived data under: ``DERIVED_DATA_PREFIX``, which the stack always sets."""
    prefix = environ.get(DERIVED_DATA_PREFIX_ENV, "")
    if not prefix:
        raise ConfigurationError(f"{DERIVED_DATA_PREFIX_ENV} is not set: the function does not know where to write "
                                 "the data it derives")
    return prefix


def configured_method(environ: Mapping[str, str] = os.environ) -> str:
    """The deployment's default method: ``CONSOLIDATION_METHOD``, or Dawid-Skene when unset."""
    method = environ.get(METHOD_ENV, "").strip() or DAWID_SKENE
    if method not in METHODS:
        raise ConfigurationError(f"{METHOD_ENV} {method!r} is not one of {', '.join(METHODS)}")
    return method


def configured_questions(environ: Mapping[str, str] = os.environ) -> tuple[Question, ...]:
    """The workflow's questions from ``WORKFLOW_QUESTIONS``."""
    text = environ.get(QUESTIONS_ENV, "").strip()
    if not text:
        raise ConfigurationError(f"{QUESTIONS_ENV} is not set: the function does not know the workflow's questions")
    try:
        return questions_from_json(text)
    except QuestionError as error:
        message = str(error)
        if not message.startswith(QUESTIONS_ENV):
            message = f"{QUESTIONS_ENV}: {message}"
        raise ConfigurationError(message) from None


def method_of(question: Question, default: str) -> str:
    """The method a question is consolidated with: its own, else the deployment's default."""
    return getattr(question, "method", None) or default
