"""What a worker's email address must be, written once.

The addresses are invited as Cognito users and subscribed to the workteam's SNS topic (an email
subscription's endpoint), so an address is checked before either sees it: by the portal resource
at deploy time, by ``PrivateWorkteam`` at synth and by the app's environment config. A plain ASCII
address (``name@example.com``): dot-separated words of letters, digits and ``!#$%&'*+/=?^_`{|}~-``
before the ``@``, dot-separated domain labels after it, ending in a top-level domain of letters; at
most 254 characters, 64 before the ``@``. An address listed twice (compared without case) is
refused: it is one worker, and CDK would refuse its second subscription.

Standard library only: this module ships in the portal resource's Lambda asset.
"""
from __future__ import annotations

import re
from typing import Any, Callable

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
MAX_EMAIL_LENGTH, MAX_LOCAL_PART_LENGTH = 254, 64


class EmailError(ValueError):
    """A worker email list that cannot be invited; the message names the setting and the address."""


def never(value: Any) -> bool:
    return False


def is_email(value: Any) -> bool:
    return (isinstance(value, str) and len(value) <= MAX_EMAIL_LENGTH and EMAIL.fullmatch(value) is not None
            and len(value.partition("@")[0]) <= MAX_LOCAL_PART_LENGTH)


def worker_emails(value: Any, setting: str = "WorkerEmails", deploy_time: Callable[[Any], bool] = never) -> list[str]:
    """``value``, a list of distinct email addresses, as a list. ``deploy_time`` tells an address known only
    at deploy time (a CDK token, at synth), which is left for the portal resource to check."""
    if not isinstance(value, (list, tuple)):
        raise EmailError(f"{setting} must be a list of email addresses, not {value!r}")
    seen: dict[str, str] = {}
    for email in value:
        if deploy_time(email):
            continue
        if not is_email(email):
            raise EmailError(f"{setting} entry {email!r} is not an email address")
        first = seen.get(email.lower())
        if first is not None:
            twice = f"{email!r} twice" if first == email else f"one address twice: {first!r} and {email!r}"
            raise EmailError(f"{setting} lists {twice} (addresses are compared without case)")
        seen[email.lower()] = email
    return list(value)
