"""Where a workflow keeps its parts in its bucket, by default, and the rule that keeps the parts apart.

Each part is a prefix (or, for the manifest, a key) that a deployment or a role is scoped to: the sample data
(deployed with pruning: what is not in the source is deleted under it), the labeling jobs' output, the derived data
and task records, the worker templates and the review manifests. Two parts where one lies inside the other would
share objects: a deploy that prunes one deletes the other's (a job's output, the manifest), and each role's grants
reach the other's objects. Plain Python, so workflow definitions check their prefixes without loading aws_cdk.
"""
from __future__ import annotations

from typing import Collection, Mapping

DATA_PREFIX = "data/"
MANIFEST_KEY = "manifests/input.manifest"
OUTPUT_PREFIX = "output/"
DERIVED_DATA_PREFIX = "derived/"
TEMPLATE_PREFIX = "templates/"
REVIEW_PREFIX = "review/"


def overlapping(parts: Mapping[str, str], new: Collection[str] = ()) -> list[str]:
    """Each pair of ``parts`` (what it is -> its prefix or key) where one lies inside the other, in words; with
    ``new``, only the pairs with at least one of those parts."""
    named = list(parts.items())
    return [f"{name} {prefix!r} and {other} {other_prefix!r}"
            for number, (name, prefix) in enumerate(named) for other, other_prefix in named[number + 1:]
            if (prefix.startswith(other_prefix) or other_prefix.startswith(prefix))
            and (not new or name in new or other in new)]
