"""Expert review on AWS: the functions that chain a review labeling job to a workflow's job
(entry points in ``handler``).

- ``start.lambda_handler``: the workflow's job completed (an EventBridge event); picks the objects an
  expert must see (``gt_common.review.needs_review``), writes the review manifest and creates the
  review job, or, when nothing needs review, writes the final manifest at once.
- ``task.lambda_handler``: the review job's pre-labeling: a review manifest line -> what the review
  page shows (the data object, the crowd's votes and consolidated label, why it is here).
- ``decision.lambda_handler``: the review job's consolidation, a pass-through: the expert's answer.
- ``merge.lambda_handler``: the review job completed; writes the one final manifest
  (``gt_common.review.merge_review``).
"""
