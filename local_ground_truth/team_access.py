"""Who may use a worker server that other machines reach: a key per role, handed out as links.

On 127.0.0.1 (the default) only this machine reaches the server and nothing is asked. Served on an
address of the network (``--host``), the server answers only browsers that opened one of the job's
links, each carrying a key:

- the **workers' link** (``/?key=...``): the sign-in page, queues and tasks;
- the **experts' link** (``/review?key=...``): the review pages;
- the **requester's link** (``/requester?key=...``): everything (progress, every answer, the reports,
  the review pages and the workers' pages).

The files the pages show (``/media/``) need no key: each link is signed for one object and expires, as a
presigned URL of Ground Truth's does, and only a page of the job hands one out (the review page's preview
of a task, a sandboxed frame, sends no cookie). Nor does the crowd elements' stand-in (``/static/``). Opening a link sets its key as a cookie (HttpOnly,
SameSite=Lax, named with the server's port so that two runners on one machine keep theirs apart) and
sends the browser on to the same address without the key, so the key stays out of the address bar,
the history and any ``Referer``. Browsers send a cookie to every port of the host it came from: any
other server on the runner's machine that the browser visits sees the keys (serve a team from a
machine you trust). A request without a key
for its part of the server gets 403 and a page saying to ask for the link. Within the team, workers
still name themselves, as they do locally: a key says who may label, not who someone is.

The keys are kept in the job's folder (``<job>-team-keys.json``, readable by its owner only), so the
links stay good when the runner is stopped and started again; deleting the file makes new ones.
"""
from __future__ import annotations

import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional
from urllib.parse import quote, urlencode

WORKER, EXPERT, REQUESTER = "worker", "expert", "requester"
ROLES = (WORKER, EXPERT, REQUESTER)
LINK_NAMES = {WORKER: "the workers' link", EXPERT: "the experts' link", REQUESTER: "the requester's link"}
COOKIE_PREFIX = "team-"
OPEN_TO_ALL = ("/static/", "/media/", "/favicon.ico")
KEY_PARAMETER = "key"
KEY_FORM = re.compile(r"[A-Za-z0-9_-]{16,128}")  # what TeamKeys.new makes (a kept file may hold only such)


def cookie_name(role: str, port: object) -> str:
    """The cookie that holds a role's key on the server at ``port``."""
    return f"{COOKIE_PREFIX}{port}-{role}"


def role_of(path: str, review_prefix: str, requester_prefix: str) -> Optional[str]:
    """The role a path belongs to; None for what needs no key (signed files, the stand-in)."""
    if path.startswith(OPEN_TO_ALL):
        return None
    if path == requester_prefix or path.startswith(requester_prefix + "/"):
        return REQUESTER
    if path == review_prefix or path.startswith(review_prefix + "/"):
        return EXPERT
    return WORKER


@dataclass(frozen=True)
class TeamKeys:
    """One key per role (``ROLES``)."""

    worker: str
    expert: str
    requester: str

    @classmethod
    def new(cls) -> "TeamKeys":
        return cls(*(secrets.token_urlsafe(18) for _ in ROLES))

    @classmethod
    def kept_in(cls, path: Path) -> "TeamKeys":
        """The keys stored at ``path``; new ones, stored there (owner-only), when there are none or they are unusable."""
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            keys = cls(*(stored[role] for role in ROLES))
            if all(isinstance(key, str) and KEY_FORM.fullmatch(key) for key in (keys.worker, keys.expert, keys.requester)):
                return keys
        except (OSError, ValueError, KeyError, TypeError):
            pass
        keys = cls.new()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump({role: keys.key_of(role) for role in ROLES}, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
        return keys

    def key_of(self, role: str) -> str:
        return {WORKER: self.worker, EXPERT: self.expert, REQUESTER: self.requester}[role]

    def role_with(self, key: str) -> Optional[str]:
        """The role whose key this is (compared in constant time), or None."""
        found = None
        for role in ROLES:
            if hmac.compare_digest(key.encode("utf-8", "surrogateescape"), self.key_of(role).encode("ascii")):
                found = role
        return found

    def allowed(self, needed: Optional[str], cookies: Mapping[str, str], port: object) -> bool:
        """Whether the browser's cookies for the server at ``port`` hold a key for ``needed`` (the requester's opens
        everything; None: no key needed)."""
        if needed is None:
            return True
        return any(hmac.compare_digest(cookies.get(cookie_name(role, port), "").encode("utf-8", "surrogateescape"),
                                       self.key_of(role).encode("ascii")) for role in (needed, REQUESTER))

    def link(self, origin: str, role: str, path: str) -> str:
        return f"{origin.rstrip('/')}{path}?{urlencode({KEY_PARAMETER: self.key_of(role)})}"


def without_key(path: str, arguments: Iterable[tuple[str, str]]) -> str:
    """The address a key link sends the browser on to: the same path and arguments (``(name, value)`` pairs), less
    the key. The path is percent-encoded (a control character, a space or a backslash never reaches the header as
    such) and starts with one '/' only, so it always names a page of this server, never another site ("//host")."""
    kept = [(name, value) for name, value in arguments if name != KEY_PARAMETER]
    here = "/" + quote(path, safe="/%:@!$&'()*+,;=-._~").lstrip("/")
    return here + (f"?{urlencode(kept)}" if kept else "")
