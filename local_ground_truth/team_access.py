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
SameSite=Lax, kept 30 days, named with the server's port so that two runners on one machine keep theirs apart) and
sends the browser on to the same address without the key, so the key stays out of the address bar,
the history and any ``Referer``. Browsers send a cookie to every port of the host it came from: any
other server on the runner's machine that the browser visits sees the keys (serve a team from a
machine you trust). A request without a key
for its part of the server gets 403 and a page saying to ask for the link.

With the shared workers' link, workers name themselves, as they do locally: a key says who may label, not who
someone is. A **named team** (the runner's ``--worker NAME``, once per worker) gets a link per worker instead:
it signs that browser in as that worker, whose pages are the only workers' pages it opens (another worker's
address, or an answer sent as another, is refused), and the shared workers' link opens nothing (the requester's
key opens the team's workers' pages, and no other name's). So each
worker's answers, and the quality report's figures of them, are that person's.

The keys are kept in the job's folder (``<job>-team-keys.json``, readable by its owner only), so the
links stay good when the runner is stopped and started again (a worker named again gets their link
back); deleting the file makes new ones.
"""
from __future__ import annotations

import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence
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


def switch_proof(current_key: str, their_key: str) -> str:
    """What the "sign in as them" link of a browser signed in with ``current_key`` carries: only a browser holding
    that key is sent it, so a link somebody made with their own key and ``switch=`` (to have a colleague's answers
    count as theirs) switches nobody."""
    return hmac.new(current_key.encode("utf-8", "surrogateescape"), their_key.encode("utf-8", "surrogateescape"),
                    "sha256").hexdigest()[:32]


def is_switch_proof(given: str, current_key: str, their_key: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                               switch_proof(current_key, their_key).encode("ascii"))


def _same(given: str, key: str) -> bool:
    """Constant-time comparison of a key a browser sent with one of the job's."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), key.encode("ascii"))


@dataclass(frozen=True)
class TeamKeys:
    """One key per role (``ROLES``) and, for a named team (``workers``: name -> key), one per worker."""

    worker: str
    expert: str
    requester: str
    workers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def new(cls) -> "TeamKeys":
        return cls(*(_new_key() for _ in ROLES))

    @classmethod
    def kept_in(cls, path: Path, team: Sequence[str] = ()) -> "TeamKeys":
        """The keys stored at ``path`` (new ones when there are none or they are unusable), with a key for each worker
        named in ``team`` (kept from an earlier run, or new); stored there again (owner-only) when anything is new.
        A worker no longer named keeps their key in the file, unused, so naming them again restores their link."""
        stored_workers: dict[str, str] = {}
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            keys = cls(*(stored[role] for role in ROLES))
            if not all(isinstance(key, str) and KEY_FORM.fullmatch(key) for key in (keys.worker, keys.expert, keys.requester)):
                raise ValueError("a key of another form")
            stored_workers = {name: key for name, key in (stored.get("workers") or {}).items()
                              if isinstance(name, str) and isinstance(key, str) and KEY_FORM.fullmatch(key)}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            keys, stored_workers = cls.new(), {}
            changed = True
        else:
            changed = False
        every = dict(stored_workers)
        for name in team:
            if name not in every:
                every[name], changed = _new_key(), True
        if changed:
            _store(path, {**{role: keys.key_of(role) for role in ROLES}, "workers": every})
        return cls(keys.worker, keys.expert, keys.requester, {name: every[name] for name in team})

    def key_of(self, role: str) -> str:
        return {WORKER: self.worker, EXPERT: self.expert, REQUESTER: self.requester}[role]

    def role_with(self, key: str) -> Optional[str]:
        """The role whose key this is (a named worker's is a worker's; compared in constant time), or None."""
        found = None
        for role in ROLES:
            if _same(key, self.key_of(role)) and not (role == WORKER and self.workers):
                found = role
        return WORKER if self.worker_with(key) is not None else found

    def worker_with(self, key: str) -> Optional[str]:
        """The named worker whose key this is, or None."""
        found = None
        for name, theirs in self.workers.items():
            if _same(key, theirs):
                found = name
        return found

    def signed_in_as(self, cookies: Mapping[str, str], port: object) -> Optional[str]:
        """The named worker whose key the browser's worker cookie holds, or None."""
        return self.worker_with(cookies.get(cookie_name(WORKER, port), "")) if self.workers else None

    def allowed(self, needed: Optional[str], cookies: Mapping[str, str], port: object) -> bool:
        """Whether the browser's cookies for the server at ``port`` hold a key for ``needed`` (the requester's opens
        everything; None: no key needed). With named workers, the workers' part opens only to their own keys."""
        if needed is None:
            return True
        if _same(cookies.get(cookie_name(REQUESTER, port), ""), self.requester):
            return True
        if needed == WORKER and self.workers:
            return self.signed_in_as(cookies, port) is not None
        return _same(cookies.get(cookie_name(needed, port), ""), self.key_of(needed))

    def link(self, origin: str, role: str, path: str) -> str:
        return f"{origin.rstrip('/')}{path}?{urlencode({KEY_PARAMETER: self.key_of(role)})}"

    def worker_link(self, origin: str, name: str) -> str:
        """A named worker's own link: it signs their browser in as them."""
        return f"{origin.rstrip('/')}/?{urlencode({KEY_PARAMETER: self.workers[name]})}"


def _new_key() -> str:
    return secrets.token_urlsafe(18)


def _store(path: Path, keys: dict) -> None:
    """Written whole and readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(keys, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)


def without_key(path: str, arguments: Iterable[tuple[str, str]]) -> str:
    """The address a key link sends the browser on to: the same path and arguments (``(name, value)`` pairs), less
    the key. The path is percent-encoded (a control character, a space or a backslash never reaches the header as
    such) and starts with one '/' only, so it always names a page of this server, never another site ("//host")."""
    kept = [(name, value) for name, value in arguments if name != KEY_PARAMETER]
    here = "/" + quote(path, safe="/%:@!$&'()*+,;=-._~").lstrip("/")
    return here + (f"?{urlencode(kept)}" if kept else "")
