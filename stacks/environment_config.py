"""Per-environment settings, read once from ``cdk.json`` context in ``app.py``."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from aws_cdk import Environment, RemovalPolicy

import workflows  # noqa: F401 - puts lambda_src on the import path: gt_common names the methods
from gt_common.questions import DAWID_SKENE, METHODS
from gt_common.review import ReviewError, ReviewSettings, parse_settings
from labeling_constructs.labeling_job_resource import job_settings

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KNOWN_KEYS = {"account", "region", "workerEmails", "workersPerObject", "removalPolicy",
               "createLabelingJob", "existingWorkteamArn", "consolidationMethod", "review", "expertWorkteamArn"}


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    account: Optional[str] = None
    region: Optional[str] = None
    worker_emails: tuple[str, ...] = field(default_factory=tuple)
    workers_per_object: int = 3
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    create_labeling_job: bool = True
    existing_workteam_arn: Optional[str] = None
    consolidation_method: str = DAWID_SKENE  # the default of every question that names none
    #: Expert review of what the crowd could not settle: on or off, and the confidence threshold.
    review: ReviewSettings = field(default_factory=ReviewSettings)
    #: The experts' workteam; None: a team of the environment's own workforce (its workforce stack).
    expert_workteam_arn: Optional[str] = None

    @property
    def cdk_environment(self) -> Optional[Environment]:
        """None keeps stacks environment-agnostic (synth needs no credentials)."""
        if self.account is None and self.region is None:
            return None
        return Environment(account=self.account, region=self.region)


def load_environment(environments: Mapping[str, Any], name: str) -> EnvironmentConfig:
    """Validate one entry of the ``environments`` context; errors name the environment and key."""
    if name not in environments:
        raise ValueError(f"unknown environment {name!r}: cdk.json context 'environments' has {sorted(environments)}")
    raw = environments[name]
    unknown = set(raw) - _KNOWN_KEYS
    if unknown:
        raise ValueError(f"environment {name!r} has unknown keys {sorted(unknown)}; known: {sorted(_KNOWN_KEYS)}")
    emails = tuple(raw.get("workerEmails") or ())
    for email in emails:
        if not isinstance(email, str) or not _EMAIL.match(email):
            raise ValueError(f"environment {name!r}: workerEmails entry {email!r} is not an email address")
    workers = raw.get("workersPerObject", 3)
    if not isinstance(workers, int):  # a number, not its text: cdk.json is JSON
        raise ValueError(f"environment {name!r}: workersPerObject {workers!r} must be an integer")
    try:
        job_settings.workers_per_object(workers, "workersPerObject")
    except job_settings.JobSettingError as error:
        raise ValueError(f"environment {name!r}: {error}") from None
    policies = {"retain": RemovalPolicy.RETAIN, "destroy": RemovalPolicy.DESTROY}
    policy = raw.get("removalPolicy", "retain")
    if policy not in policies:
        raise ValueError(f"environment {name!r}: removalPolicy {policy!r} must be one of {sorted(policies)}")
    if raw.get("existingWorkteamArn") and emails:
        raise ValueError(f"environment {name!r}: workerEmails cannot be invited into existingWorkteamArn; "
                         "manage that workteam's members in its own user pool")
    create_job = raw.get("createLabelingJob", True)
    if not isinstance(create_job, bool):
        raise ValueError(f"environment {name!r}: createLabelingJob must be true or false")
    method = raw.get("consolidationMethod", DAWID_SKENE)
    if method not in METHODS:
        raise ValueError(f"environment {name!r}: consolidationMethod {method!r} must be one of {sorted(METHODS)}")
    try:
        review = parse_settings(raw.get("review"), f"environment {name!r}: review")
    except ReviewError as error:
        raise ValueError(str(error)) from None
    expert_arn = raw.get("expertWorkteamArn")
    if expert_arn is not None and (not isinstance(expert_arn, str) or ":workteam/" not in expert_arn):
        raise ValueError(f"environment {name!r}: expertWorkteamArn {expert_arn!r} is not a workteam ARN")
    if review.enabled and raw.get("existingWorkteamArn") and not expert_arn:
        raise ValueError(f"environment {name!r}: review is on and the workteam is reused (existingWorkteamArn), so "
                         "no workforce stack can add the experts' team: set expertWorkteamArn")
    return EnvironmentConfig(
        name=name,
        account=raw.get("account"),
        region=raw.get("region"),
        worker_emails=emails,
        workers_per_object=workers,
        removal_policy=policies[policy],
        create_labeling_job=create_job,
        existing_workteam_arn=raw.get("existingWorkteamArn"),
        consolidation_method=method,
        review=review,
        expert_workteam_arn=expert_arn,
    )
