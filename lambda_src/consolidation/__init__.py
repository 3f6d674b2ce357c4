"""The generic consolidation function: any mix of the question types of ``gt_common.questions``.

``handler.lambda_handler`` is the entry point; the rules are ``gt_common.workflow_consolidation``'s.
Nothing here names a workflow: the stack configures the function from the workflow's definition
(``WORKFLOW_QUESTIONS``, ``CONSOLIDATION_METHOD``, ``TASK_RECORDS_URI``). A workflow that needs its
own rules names its own package in its definition and builds on the same ``gt_common`` parts (see
``gt_common.workflow_consolidation``).
"""
