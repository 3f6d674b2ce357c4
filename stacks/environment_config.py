"""Per-environment settings, read once from ``cdk.json`` context in ``app.py``."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from aws_cdk import Environment, RemovalPolicy

import workflows  # noqa: F401 - puts lambda_src on the import path: gt_common names the methods
from gt_common.questions import DAWID_SKENE, METHODS
from gt_common.review import ReviewError, ReviewSettings, parse_settings
from labeling_constructs.labeling_job_resource import job_settings
from labeling_constructs.workteam_portal_resource.worker_emails import EmailError, worker_emails

_KNOWN_KEYS = {"account", "region", "workerEmails", "workersPerObject", "removalPolicy",
               "createLabelingJob", "existingWorkteamArn", "existingWorkforce", "consolidationMethod", "review",
               "expertWorkteamArn", "expertEmails", "data"}
_WORKFORCE_KEYS = {"userPoolId", "clientId"}
#: Cognito's UserPoolIdType and ClientIdType (botocore model); a user pool id starts with its region.
_USER_POOL_ID = re.compile(r"[\w-]+_[0-9a-zA-Z]+", re.ASCII)
_CLIENT_ID = re.compile(r"[\w+]+", re.ASCII)
#: The environment's name ends every stack name the app makes (``<Workflow>Labeling-<name>``,
#: ``LabelingWorkforce-<name>``). CloudFormation takes stack names of letters, digits and hyphens that start
#: with a letter, at most 128 characters, and CDK shortens (and hashes) a longer one, which ``cdk deploy
#: <stack>`` would then not find. 32 leaves room for the longest workflow stack name (a 30-letter workflow
#: name gives 38 characters).
MAX_ENVIRONMENT_NAME_LENGTH = 32
_ENVIRONMENT_NAME = re.compile(rf"[A-Za-z][A-Za-z0-9-]{{0,{MAX_ENVIRONMENT_NAME_LENGTH - 1}}}")
_ACCOUNT = re.compile(r"[0-9]{12}")
#: us-east-1, eu-central-2, cn-north-1, us-gov-west-1, us-iso-east-1, us-isob-east-1, ...
_REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]")
_REMOVAL_POLICIES = {"retain": RemovalPolicy.RETAIN, "destroy": RemovalPolicy.DESTROY}


@dataclass(frozen=True)
class ExistingWorkforce:
    """The account's private workforce in the region, made elsewhere: its Cognito user pool and app client."""
    user_pool_id: str
    client_id: str


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
    #: A workforce made elsewhere whose pool the workforce stack makes its teams in; None: it creates one.
    existing_workforce: Optional[ExistingWorkforce] = None
    consolidation_method: str = DAWID_SKENE  # the default of every question that names none
    #: Expert review of what the crowd could not settle: on or off, and the confidence threshold.
    review: ReviewSettings = field(default_factory=ReviewSettings)
    #: The experts' workteam; None: a team of the environment's own workforce (its workforce stack).
    expert_workteam_arn: Optional[str] = None
    #: Subscribed to the task notifications of that team of the workforce stack (the experts hear of review jobs).
    expert_emails: tuple[str, ...] = field(default_factory=tuple)
    #: Per workflow, the folder of the data it labels instead of its sample data (``data_folders``).
    data: Mapping[str, str] = field(default_factory=dict)

    @property
    def cdk_environment(self) -> Optional[Environment]:
        """None keeps stacks environment-agnostic (synth needs no credentials)."""
        if self.account is None and self.region is None:
            return None
        return Environment(account=self.account, region=self.region)


def load_environment(environments: Any, name: Any) -> EnvironmentConfig:
    """Validate one entry of the ``environments`` context; errors name the environment and key."""
    if not isinstance(environments, Mapping):
        raise ValueError(f"cdk.json context 'environments' must be an object of environments by name, "
                         f"not {environments!r}")
    if not isinstance(name, str):
        raise ValueError(f"the environment's name must be a string (-c env=<name>), not {name!r}")
    if name not in environments:
        raise ValueError(f"unknown environment {name!r}: cdk.json context 'environments' has {sorted(environments)}")
    if not _ENVIRONMENT_NAME.fullmatch(name):
        raise ValueError(f"environment name {name!r} must be 1-{MAX_ENVIRONMENT_NAME_LENGTH} letters, digits and "
                         "hyphens, starting with a letter: it ends every stack name (<Workflow>Labeling-<name>), "
                         "and CloudFormation stack names are [A-Za-z][A-Za-z0-9-]*")
    raw = environments[name]
    if not isinstance(raw, Mapping):
        raise ValueError(f"environment {name!r} must be an object of settings like {{\"workersPerObject\": 3}}, "
                         f"not {raw!r}")
    unknown = set(raw) - _KNOWN_KEYS
    if unknown:
        raise ValueError(f"environment {name!r} has unknown keys {sorted(unknown)}; known: {sorted(_KNOWN_KEYS)}")
    account, region = raw.get("account"), raw.get("region")
    if account is not None and not (isinstance(account, str) and _ACCOUNT.fullmatch(account)):
        raise ValueError(f"environment {name!r}: account {account!r} must be a 12-digit AWS account id, "
                         'written as a string ("123456789012")')
    if region is not None and not (isinstance(region, str) and _REGION.fullmatch(region)):
        raise ValueError(f"environment {name!r}: region {region!r} must be an AWS region name such as 'us-east-1'")
    try:
        emails = tuple(worker_emails(raw.get("workerEmails", []), "workerEmails"))
    except EmailError as error:
        raise ValueError(f"environment {name!r}: {error}") from None
    workers = raw.get("workersPerObject", 3)
    if not isinstance(workers, int):  # a number, not its text: cdk.json is JSON
        raise ValueError(f"environment {name!r}: workersPerObject {workers!r} must be an integer")
    try:
        job_settings.workers_per_object(workers, "workersPerObject")
    except job_settings.JobSettingError as error:
        raise ValueError(f"environment {name!r}: {error}") from None
    policy = raw.get("removalPolicy", "retain")
    if not isinstance(policy, str) or policy not in _REMOVAL_POLICIES:
        raise ValueError(f"environment {name!r}: removalPolicy {policy!r} must be one of {sorted(_REMOVAL_POLICIES)}")
    workteam_arn, expert_arn = raw.get("existingWorkteamArn"), raw.get("expertWorkteamArn")
    try:  # null is the same as leaving the key out
        for key, arn in (("existingWorkteamArn", workteam_arn), ("expertWorkteamArn", expert_arn)):
            if arn is not None:
                job_settings.workteam_arn(arn, key)
                _check_workteam_environment(arn, key, name, account, region)
    except job_settings.JobSettingError as error:
        raise ValueError(f"environment {name!r}: {error}") from None
    if workteam_arn and emails:
        raise ValueError(f"environment {name!r}: workerEmails cannot be invited into existingWorkteamArn; "
                         "manage that workteam's members in its own user pool")
    workforce = existing_workforce(raw.get("existingWorkforce"), name, region)
    if workforce and workteam_arn:
        raise ValueError(f"environment {name!r}: existingWorkforce makes new teams of an existing workforce, "
                         "existingWorkteamArn reuses a whole workteam: set one or the other")
    create_job = raw.get("createLabelingJob", True)
    if not isinstance(create_job, bool):
        raise ValueError(f"environment {name!r}: createLabelingJob must be true or false")
    method = raw.get("consolidationMethod", DAWID_SKENE)
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"environment {name!r}: consolidationMethod {method!r} must be one of {sorted(METHODS)}")
    try:
        review = parse_settings(raw.get("review"), f"environment {name!r}: review")
    except ReviewError as error:
        raise ValueError(str(error)) from None
    if expert_arn and not review.enabled:
        raise ValueError(f"environment {name!r}: expertWorkteamArn is set but review is off, so no job would use "
                         'it: turn review on ("review": {"enabled": true}) or remove expertWorkteamArn')
    if review.enabled and workteam_arn and not expert_arn:
        raise ValueError(f"environment {name!r}: review is on and the workteam is reused (existingWorkteamArn), so "
                         "no workforce stack can add the experts' team: set expertWorkteamArn")
    try:
        expert_emails = tuple(worker_emails(raw.get("expertEmails", []), "expertEmails"))
    except EmailError as error:
        raise ValueError(f"environment {name!r}: {error}") from None
    if expert_emails and not review.enabled:
        raise ValueError(f"environment {name!r}: expertEmails is set but review is off, so there are no review tasks "
                         'to hear of: turn review on ("review": {"enabled": true}) or remove expertEmails')
    if expert_emails and expert_arn:
        raise ValueError(f"environment {name!r}: expertEmails subscribes to the task notifications of the experts' "
                         "team the workforce stack makes; expertWorkteamArn's team has its own notification settings")
    data = raw.get("data", {})
    try:
        data_folders(data, f"environment {name!r}: data")
    except ValueError as error:
        raise ValueError(str(error)) from None
    return EnvironmentConfig(
        name=name,
        account=account,
        region=region,
        worker_emails=emails,
        workers_per_object=workers,
        removal_policy=_REMOVAL_POLICIES[policy],
        create_labeling_job=create_job,
        existing_workteam_arn=workteam_arn,
        existing_workforce=workforce,
        consolidation_method=method,
        review=review,
        expert_workteam_arn=expert_arn,
        expert_emails=expert_emails,
        data=dict(data),
    )


def _check_workteam_environment(arn: str, key: str, name: str, account: Optional[str], region: Optional[str]) -> None:
    """A labeling job takes a workteam of its own region, and a private one of its own account (a vendor's workteam
    is of the vendor's account): refused here naming the key, where the construct's own check
    would name only its prop (``workteam_arn``) and a stack."""
    wrong = job_settings.workteam_out_of_place(arn, account, region)
    if wrong is None:
        return
    what, given, own = wrong
    if what == "region":
        raise ValueError(f"environment {name!r}: {key} {arn!r} is a workteam of {given}, not of the "
                         f"environment's region {own}: a labeling job can only use a workteam of its own region")
    raise ValueError(f"environment {name!r}: {key} {arn!r} is a private workteam of account {given}, not "
                     f"of the environment's account {own}: a labeling job can only use a private workteam of "
                     "its own account")


def existing_workforce(value: Any, name: str, region: Optional[str]) -> Optional[ExistingWorkforce]:
    """The ``existingWorkforce`` setting (``{"userPoolId": ..., "clientId": ...}``; null: none), checked against
    Cognito's patterns for both ids; a pool of another region than the environment's is refused (a workforce, and
    the workteams made in it, are of one region)."""
    if value is None:
        return None
    where = f"environment {name!r}: existingWorkforce"
    if not isinstance(value, Mapping):
        raise ValueError(f'{where} must be an object like {{"userPoolId": "us-east-1_AbCdEf123", "clientId": '
                         f'"<the app client id>"}} (the workforce\'s Cognito user pool and app client), not {value!r}')
    unknown, missing = set(value) - _WORKFORCE_KEYS, _WORKFORCE_KEYS - set(value)
    if unknown:
        raise ValueError(f"{where} has unknown keys {sorted(unknown)}; known: {sorted(_WORKFORCE_KEYS)}")
    if missing:
        raise ValueError(f"{where} lacks {sorted(missing)}: a team of the workforce signs in through its user pool "
                         "and app client, both are needed")
    pool, client = value["userPoolId"], value["clientId"]
    if not (isinstance(pool, str) and len(pool) <= 55 and _USER_POOL_ID.fullmatch(pool)):
        raise ValueError(f"{where}: userPoolId {pool!r} is not a Cognito user pool id (like 'us-east-1_AbCdEf123')")
    if not (isinstance(client, str) and len(client) <= 128 and _CLIENT_ID.fullmatch(client)):
        raise ValueError(f"{where}: clientId {client!r} is not a Cognito app client id (letters, digits, '_' and '+')")
    pool_region = pool.split("_", 1)[0]
    if region is not None and pool_region != region:
        raise ValueError(f"{where}: userPoolId {pool!r} is a pool of {pool_region}, not of the environment's region "
                         f"{region}: a private workforce and its teams are of one region")
    return ExistingWorkforce(user_pool_id=pool, client_id=client)


def data_folders(value: Any, where: str) -> dict[str, str]:
    """``{workflow: folder}``: the data each workflow labels instead of its sample data, a folder laid out as
    ``sample_data/<workflow>/`` (its ``manifest.jsonl`` and the files it names); a relative folder is the project
    folder's. ValueError naming ``where`` when it is not an object of non-empty texts."""
    if not isinstance(value, Mapping) or not all(isinstance(key, str) and isinstance(folder, str) and folder.strip()
                                                 for key, folder in value.items()):
        raise ValueError(f'{where} must be an object of folders by workflow, like {{"<workflow>": "/data/my-data"}}, '
                         f"not {str(value)[:200]}")
    return dict(value)
