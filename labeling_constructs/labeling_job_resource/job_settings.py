"""Ground Truth's rules for a labeling job's settings (CreateLabelingJob), each written once.

Read by the job resource at deploy time (``request.create_request``), by ``CustomLabelingWorkflow``
at synth (so a bad setting fails ``cdk synth`` with the setting named), and by anything else that
takes a job setting from a user (the app's environment config, a workflow definition). Every check raises
``JobSettingError`` naming the setting as the caller calls it (``setting=``) and the rule broken.

Standard library only: this module ships in the job resource's Lambda asset.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Callable, Mapping, Optional

#: NumberOfHumanWorkersPerDataObject.
MIN_WORKERS_PER_OBJECT, MAX_WORKERS_PER_OBJECT = 1, 9
#: TaskTimeLimitInSeconds: 30 seconds to 8 hours.
MIN_TASK_TIME_LIMIT_SECONDS, MAX_TASK_TIME_LIMIT_SECONDS = 30, 28_800
#: TaskAvailabilityLifetimeInSeconds: 1 minute to 30 days for a private workforce.
MIN_TASK_AVAILABILITY_SECONDS, MAX_TASK_AVAILABILITY_SECONDS = 60, 2_592_000
#: MaxConcurrentTaskCount.
MIN_CONCURRENT_TASKS, MAX_CONCURRENT_TASKS = 1, 5_000
MAX_TITLE_LENGTH = 128
MAX_DESCRIPTION_LENGTH = 255
MAX_LABEL_ATTRIBUTE_LENGTH = 127
#: LabelAttributeName's pattern (botocore model): ASCII letters and digits, hyphens only between them.
LABEL_ATTRIBUTE_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}")
#: Ground Truth writes "<label>-metadata" beside the label; a custom job's label may not end in "-ref" either.
RESERVED_LABEL_SUFFIXES = ("-metadata", "-ref")
#: TaskKeywords: 1-5 keywords when given (none: the request leaves TaskKeywords out), each 1-30 characters of
#: ASCII letters and digits in words separated by single spaces (botocore model: TaskKeywords, TaskKeyword).
MAX_TASK_KEYWORDS = 5
MAX_TASK_KEYWORD_LENGTH = 30
TASK_KEYWORD = re.compile(r"[A-Za-z0-9]+( [A-Za-z0-9]+)*")
#: WorkteamArn's pattern and length (botocore model).
WORKTEAM_ARN = re.compile(r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:workteam/.*")
MAX_WORKTEAM_ARN_LENGTH = 256
#: The public crowd's workteams (``workteam/public-crowd/default``): Amazon Mechanical Turk.
PUBLIC_CROWD = "workteam/public-crowd/"
#: A private workforce's teams: of the job's own account (a vendor's are of the vendor's).
PRIVATE_CROWD = "workteam/private-crowd/"


#: Tags (botocore model: TagList, TagKey, TagValue): at most 50; a key 1-128 and a value 0-256 characters, each
#: of letters, separators and numbers (Unicode categories L, Z, N) and "_.:/=+-@". Keys starting "aws:" are AWS's own.
MAX_TAGS = 50
MAX_TAG_KEY_LENGTH, MAX_TAG_VALUE_LENGTH = 128, 256
TAG_PUNCTUATION = frozenset("_.:/=+-@")
RESERVED_TAG_PREFIX = "aws:"


class JobSettingError(ValueError):
    """A labeling-job setting CreateLabelingJob would reject; the message names the setting."""


def never(value: Any) -> bool:
    """No value is known only at deploy time: the default when the caller has every value (the job resource)."""
    return False


def integer(value: Any, setting: str, low: int, high: int) -> int:
    """``value`` (an int, or its decimal text as CloudFormation passes it) within ``low..high``."""
    if isinstance(value, bool):
        raise JobSettingError(f"{setting} {value!r} is not an integer")
    if isinstance(value, int):
        number = value
    else:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise JobSettingError(f"{setting} {value!r} is not an integer") from None
    if not low <= number <= high:
        raise JobSettingError(f"{setting} {number} must be between {low} and {high}")
    return number


def workers_per_object(value: Any, setting: str = "NumberOfHumanWorkersPerDataObject") -> int:
    return integer(value, setting, MIN_WORKERS_PER_OBJECT, MAX_WORKERS_PER_OBJECT)


def task_time_limit_seconds(value: Any, setting: str = "TaskTimeLimitInSeconds") -> int:
    return integer(value, setting, MIN_TASK_TIME_LIMIT_SECONDS, MAX_TASK_TIME_LIMIT_SECONDS)


def task_availability_seconds(value: Any, setting: str = "TaskAvailabilityLifetimeInSeconds") -> int:
    return integer(value, setting, MIN_TASK_AVAILABILITY_SECONDS, MAX_TASK_AVAILABILITY_SECONDS)


def max_concurrent_tasks(value: Any, setting: str = "MaxConcurrentTaskCount") -> int:
    return integer(value, setting, MIN_CONCURRENT_TASKS, MAX_CONCURRENT_TASKS)


def _text(value: Any, setting: str, longest: int) -> str:
    if not isinstance(value, str) or not value:
        raise JobSettingError(f"{setting} must be a non-empty string")
    if len(value) > longest:
        raise JobSettingError(f"{setting} is {len(value)} characters; at most {longest}")
    return value


def _title_character(character: str) -> bool:
    """TaskTitle's pattern (botocore model): ``[\\t\\n\\r -\\uD7FF\\uE000-\\uFFFD]*``: no control character but tab and
    line breaks, nothing outside the Basic Multilingual Plane (an emoji is a surrogate pair there)."""
    return character in "\t\n\r" or " " <= character <= "\ud7ff" or "\ue000" <= character <= "\ufffd"


#: TaskDescription's pattern (botocore model) is ``.+``: "." matches no line terminator (Java's: \n, \r, U+0085,
#: U+2028, U+2029), so a description is one line.
_LINE_TERMINATORS = "\n\r\u0085\u2028\u2029"


def task_title(value: Any, setting: str = "TaskTitle") -> str:
    _text(value, setting, MAX_TITLE_LENGTH)
    bad = next((character for character in value if not _title_character(character)), None)
    if bad is not None:
        raise JobSettingError(f"{setting} {value[:60]!r} holds {bad!r} (U+{ord(bad):04X}): CreateLabelingJob takes no "
                              "control character but tab and line breaks, and no character outside the Basic "
                              "Multilingual Plane (such as an emoji)")
    return value


def task_description(value: Any, setting: str = "TaskDescription") -> str:
    _text(value, setting, MAX_DESCRIPTION_LENGTH)
    bad = next((character for character in value if character in _LINE_TERMINATORS), None)
    if bad is not None:
        raise JobSettingError(f"{setting} {value[:60]!r} holds a line break ({bad!r}): CreateLabelingJob takes a "
                              "description of one line")
    return value


def label_attribute_name(value: Any, setting: str = "LabelAttributeName") -> str:
    _text(value, setting, MAX_LABEL_ATTRIBUTE_LENGTH)
    if not LABEL_ATTRIBUTE_NAME.fullmatch(value):
        raise JobSettingError(f"{setting} {value!r} must be ASCII letters and digits, with hyphens only between them")
    if value.endswith(RESERVED_LABEL_SUFFIXES):
        raise JobSettingError(f"{setting} {value!r} must not end in {' or '.join(RESERVED_LABEL_SUFFIXES)}")
    return value


def task_keywords(value: Any, setting: str = "TaskKeywords",
                  deploy_time: Callable[[Any], bool] = never) -> list[str]:
    """A list of up to 5 keywords (an empty one: none are sent). ``deploy_time`` tells a keyword known only at
    deploy time (a CDK token, at synth), which is left for the job resource to check."""
    if not isinstance(value, (list, tuple)):
        raise JobSettingError(f"{setting} must be a list of keywords, not {value!r}")
    if len(value) > MAX_TASK_KEYWORDS:
        raise JobSettingError(f"{setting} has {len(value)} keywords; at most {MAX_TASK_KEYWORDS}")
    for keyword in value:
        if deploy_time(keyword):
            continue
        if not isinstance(keyword, str) or not keyword:
            raise JobSettingError(f"{setting} entry {keyword!r} must be a non-empty string")
        if len(keyword) > MAX_TASK_KEYWORD_LENGTH:
            raise JobSettingError(f"{setting} entry {keyword!r} is {len(keyword)} characters; "
                                  f"at most {MAX_TASK_KEYWORD_LENGTH}")
        if not TASK_KEYWORD.fullmatch(keyword):
            raise JobSettingError(f"{setting} entry {keyword!r} must be words of ASCII letters and digits "
                                  "separated by single spaces")
    return list(value)


def workteam_arn(value: Any, setting: str = "WorkteamArn") -> str:
    if not isinstance(value, str):
        raise JobSettingError(f"{setting} must be a workteam ARN (a string), not {value!r}")
    if len(value) > MAX_WORKTEAM_ARN_LENGTH or not WORKTEAM_ARN.fullmatch(value):
        raise JobSettingError(f"{setting} {value!r} is not a workteam ARN "
                              "(arn:aws:sagemaker:<region>:<12-digit account>:workteam/<type>/<name>)")
    if value.split(":", 5)[5].startswith(PUBLIC_CROWD):
        # Its jobs need a price per task (PublicWorkforceTaskPrice), which nothing here sets, and tasks available 12
        # hours at most: CreateLabelingJob would refuse the job at deploy.
        raise JobSettingError(f"{setting} {value!r} is Amazon Mechanical Turk's public crowd, which these workflows do "
                              "not set up (its jobs need a price per task and tasks available at most 12 hours): use "
                              "a private or vendor workteam")
    return value


def workteam_out_of_place(arn: str, account: Optional[str], region: Optional[str]) -> Optional[tuple[str, str, str]]:
    """Why a job of ``account`` in ``region`` cannot use the workteam ``arn`` (one ``workteam_arn`` took): ``(what,
    the ARN's, the job's)`` for a workteam of another region, or a private one of another account; None when it can,
    or when what it differs in is not known (None)."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None
    arn_region, arn_account, resource = parts[3:]
    if region is not None and arn_region != region:
        return "region", arn_region, region
    if account is not None and resource.startswith(PRIVATE_CROWD) and arn_account != account:
        return "account", arn_account, account
    return None


def _tag_text(text: str) -> bool:
    return all(unicodedata.category(character)[0] in "LZN" or character in TAG_PUNCTUATION for character in text)


def tags(value: Any, setting: str = "Tags", deploy_time: Callable[[Any], bool] = never) -> list[dict[str, str]]:
    """Tags as CreateLabelingJob takes them (``[{"Key": ..., "Value": ...}]``), from a mapping of key to value or
    that list. ``deploy_time`` tells a key or value known only at deploy time, left for the job resource to check."""
    if isinstance(value, Mapping):
        pairs = [(key, value[key]) for key in value]
    elif isinstance(value, (list, tuple)) and all(isinstance(tag, Mapping) and set(tag) == {"Key", "Value"}
                                                  for tag in value):
        pairs = [(tag["Key"], tag["Value"]) for tag in value]
    else:
        raise JobSettingError(f"{setting} must be a mapping of tag keys to values, not {value!r}")
    if len(pairs) > MAX_TAGS:
        raise JobSettingError(f"{setting} has {len(pairs)} tags; at most {MAX_TAGS}")
    seen: set[str] = set()
    for key, text in pairs:
        if not deploy_time(key):
            if not isinstance(key, str) or not 1 <= len(key) <= MAX_TAG_KEY_LENGTH or not _tag_text(key):
                raise JobSettingError(f"{setting} key {key!r} must be 1-{MAX_TAG_KEY_LENGTH} letters, digits, spaces "
                                      f"and {''.join(sorted(TAG_PUNCTUATION))}")
            if key.lower().startswith(RESERVED_TAG_PREFIX):
                raise JobSettingError(f"{setting} key {key!r}: keys starting {RESERVED_TAG_PREFIX!r} are AWS's own")
            if key in seen:
                raise JobSettingError(f"{setting} key {key!r} is given twice")
            seen.add(key)
        if not deploy_time(text):
            if not isinstance(text, str) or len(text) > MAX_TAG_VALUE_LENGTH or not _tag_text(text):
                raise JobSettingError(f"{setting} value {text!r} of {key!r} must be at most {MAX_TAG_VALUE_LENGTH} "
                                      f"letters, digits, spaces and {''.join(sorted(TAG_PUNCTUATION))}")
    return [{"Key": key, "Value": text} for key, text in pairs]


__all__ = [
    "JobSettingError", "LABEL_ATTRIBUTE_NAME", "MAX_TAGS", "MAX_CONCURRENT_TASKS", "MAX_DESCRIPTION_LENGTH",
    "MAX_LABEL_ATTRIBUTE_LENGTH", "MAX_TASK_AVAILABILITY_SECONDS", "MAX_TASK_KEYWORDS", "MAX_TASK_KEYWORD_LENGTH",
    "MAX_TASK_TIME_LIMIT_SECONDS", "MAX_TITLE_LENGTH", "MAX_WORKERS_PER_OBJECT", "MAX_WORKTEAM_ARN_LENGTH",
    "MIN_CONCURRENT_TASKS", "MIN_TASK_AVAILABILITY_SECONDS", "MIN_TASK_TIME_LIMIT_SECONDS",
    "MIN_WORKERS_PER_OBJECT", "PRIVATE_CROWD", "PUBLIC_CROWD", "RESERVED_LABEL_SUFFIXES", "TASK_KEYWORD", "WORKTEAM_ARN", "integer",
    "label_attribute_name", "max_concurrent_tasks", "never", "task_availability_seconds", "task_description", "task_keywords",
    "tags", "task_time_limit_seconds", "task_title", "workers_per_object", "workteam_arn",
    "workteam_out_of_place",
]
