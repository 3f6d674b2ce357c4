"""The four entry points of the expert-review functions (one package, one asset, four functions)."""
from __future__ import annotations

from . import decision, merge, start, task

#: EventBridge: a workflow job completed -> review job, or the final manifest at once.
on_workflow_job_completed = start.lambda_handler
#: The review job's pre-labeling.
review_task = task.lambda_handler
#: The review job's consolidation (a pass-through of the experts' answers).
review_decision = decision.lambda_handler
#: EventBridge: a review job completed -> the final manifest.
on_review_job_completed = merge.lambda_handler
