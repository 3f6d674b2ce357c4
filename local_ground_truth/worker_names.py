"""Worker names: what a local worker may call themselves, and how a name travels in an address.

Any printable Unicode name is a name ("José", "李雷", "O'Brien", "alice smith", "AC/DC"): it is
stored as typed (NFC-normalised, surrounding spaces dropped, so one name typed two ways is one
worker; names that differ only in case are one person, ``same_person``, written as that person's first
answer spelt it), escaped wherever a page shows it, and percent-encoded (UTF-8) as one path segment of an
address (``/worker/<segment>/...``). Workers' names never reach an S3 key: Ground Truth's layout keys
answers by object and time, and the name travels inside the JSON only.

A name is refused, with the reason, when it is empty, longer than ``MAX_CHARACTERS``, holds a
character that cannot be shown (a control or format character, a line or paragraph separator, any
space but the ordinary one, an unassigned code point: ``str.isprintable``), or is "." or "..", which
browsers remove from an address before sending it.
"""
from __future__ import annotations

import unicodedata
from urllib.parse import quote, unquote

MAX_CHARACTERS = 64  # code points, after normalisation
_DOT_SEGMENTS = (".", "..")


class BadName(ValueError):
    """A name that cannot be a worker's; the message says why, in words a worker can act on."""


def canonical(typed: str) -> str:
    """The worker name ``typed`` stands for; raises ``BadName`` with the reason when it is none."""
    name = unicodedata.normalize("NFC", typed).strip()
    if not name:
        raise BadName("Enter a name.")
    unprintable = next((c for c in name if not c.isprintable()), None)
    if unprintable is not None:
        what = unicodedata.name(unprintable, "a character that cannot be shown")
        raise BadName(f"A name cannot contain U+{ord(unprintable):04X} ({what.lower()}): use letters, digits, "
                      "spaces and punctuation.")
    if len(name) > MAX_CHARACTERS:
        raise BadName(f"That name is {len(name)} characters long; a name has at most {MAX_CHARACTERS}.")
    if name in _DOT_SEGMENTS:
        raise BadName(f"\u201c{name}\u201d cannot be a name: browsers drop it from addresses. Add a letter.")
    return name


def path_segment(name: str) -> str:
    """``name`` as one path segment of an address: UTF-8, percent-encoded, "/" included."""
    return quote(name, safe="")


def from_path_segment(segment: str) -> str:
    """The name a path segment (as sent, still percent-encoded) spells; ``BadName`` when not UTF-8."""
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise BadName("That address does not spell a name (it is not UTF-8).") from None


def kept_name_in_path(segment: str) -> str:
    """The name a path segment (as sent) names; ``BadName`` unless it spells a name exactly as kept."""
    name = from_path_segment(segment)
    if canonical(name) != name:
        raise BadName("That address does not spell a name as it is kept.")
    return name


def typed_in_path(segment: str) -> str:
    """What a path segment spells, to offer back on a sign-in page ("" when it spells nothing)."""
    try:
        return from_path_segment(segment)
    except BadName:
        return ""


def is_canonical(name: str) -> bool:
    try:
        return canonical(name) == name
    except BadName:
        return False


def person(name: str) -> str:
    """What names one person: ``name`` case-folded ("Carol", "carol" and "CAROL" are one; "Straße" is "strasse")."""
    return name.casefold()


def same_person(first: str, second: str) -> bool:
    return person(first) == person(second)
