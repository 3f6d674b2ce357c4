"""Finding the page images: a local folder or an S3 prefix, and S3 URI helpers.

Only images directly inside the folder or directly under the prefix are used (no recursion), and
only names ending in ``.jpg``, ``.jpeg`` or ``.png`` (any case); everything else is skipped, and the
:class:`Listing` names it (the CLI warns with the first few names, so a wrong folder or prefix shows why).
Images are returned sorted by name so the manifest's order is stable.

An image is named in messages by its path or S3 URI, quoted (``repr``) when it holds a character that
would hide or forge part of a message line (a newline, an escape sequence) and with a byte that is
not UTF-8 shown as ``\\xNN``. :func:`name_problem` says why a local file's name cannot become an
S3 key of the manifest.
"""
from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from botocore.exceptions import BotoCoreError, ClientError

from gt_common.s3uri import InputError, parse_s3_uri
from labeling_constructs.data_prefix import DATA_PREFIX_PLACEHOLDER

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
PLACEHOLDER = DATA_PREFIX_PLACEHOLDER  # filled in at deploy time by the ManifestBucket construct


class SourceError(ValueError):
    """The input or an output location is unusable; the message says which and why."""


@dataclass(frozen=True)
class Image:
    """One page image: ``name`` is its file name, ``path`` (local) or ``bucket``/``key`` (S3)."""

    name: str
    size: int
    path: Path | None = None
    bucket: str | None = None
    key: str | None = None
    etag: str = ""  # (S3) the object's ETag when listed: which version of the page a Textract job reads

    @property
    def label(self) -> str:
        """How the image is named in messages: its path or its S3 URI (quoted when not printable)."""
        if self.path is None:
            return shown(f"s3://{self.bucket}/{self.key}")
        return shown(os.fsencode(self.path).decode("utf-8", errors="backslashreplace"))

    @property
    def stem(self) -> str:
        return PurePosixPath(self.name).stem


def shown(text: str) -> str:
    """``text`` for a message: as it is, or quoted when it holds a control character or space at either end."""
    return text if text.isprintable() and text == text.strip() else repr(text)


def name_problem(name: str) -> str | None:
    """Why a local file name cannot be an S3 key in the manifest, or None: a name that is not UTF-8 (an S3
    key is) or one holding a control character (a newline, a tab, an escape: S3's key naming guidelines
    say to avoid them, and they are almost always an accident)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not UTF-8 text, which an S3 key must be; rename it"
    control = next((c for c in name if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        return f"its name holds the control character U+{ord(control):04X}; rename it"
    return None


def split_s3_uri(uri: str, *, what: str) -> tuple[str, str]:
    """``s3://bucket/key-or-prefix`` -> ``(bucket, key)``; the key may be empty (whole bucket).

    Parsed by the project's one S3 URI parser (``gt_common.s3uri``), its error turned into a SourceError."""
    try:
        location = parse_s3_uri(uri, what=what, folder=True)
    except InputError as error:
        raise SourceError(str(error)) from None
    return location.bucket, location.key


def as_prefix(key: str) -> str:
    """A key prefix that denotes a folder: ``""`` stays the bucket root, else ends with ``/``."""
    key = key.lstrip("/")
    return key if not key or key.endswith("/") else key + "/"


def parent_prefix(prefix: str) -> str:
    """The folder above a prefix: ``"ner/pages/"`` -> ``"ner/"``, ``"pages/"`` -> ``""``."""
    parts = [p for p in prefix.split("/") if p]
    return as_prefix("/".join(parts[:-1]))


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


@dataclass
class Listing:
    """What is directly inside a folder or under a prefix: the images, sorted by name, and what was skipped: the
    names of the other files (or objects, or links to nothing) and of the folders (``"name/"``), not looked into."""

    images: list[Image]
    skipped: list[str]
    folders: list[str]


def list_local_images(folder: Path) -> Listing:
    """The images directly inside ``folder``, and what else is there."""
    if not folder.is_dir():
        raise SourceError(f"input folder {folder} does not exist or is not a folder")
    found, skipped, folders = [], [], []
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as error:
        raise SourceError(f"input folder {folder} could not be read: {error.strerror or error}") from error
    for path in entries:
        if path.is_dir():
            folders.append(path.name + "/")
            continue
        if not path.is_file() or not is_image_name(path.name):  # another file, or a link to nothing
            skipped.append(path.name)
            continue
        try:
            size = path.stat().st_size
        except OSError:  # gone since it was listed: reading it will say so
            size = 0
        found.append(Image(name=path.name, size=size, path=path))
    return Listing(found, skipped, folders)


def list_s3_images(s3, bucket: str, prefix: str) -> Listing:
    """The images directly under ``s3://bucket/prefix``, and what else is there, every ListObjectsV2 page followed.
    The prefix's own "folder" object (a zero-byte ``prefix/`` the S3 console makes) is neither."""
    prefix = as_prefix(prefix)
    images, skipped, folders = [], [], []
    paginator = s3.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            for obj in page.get("Contents", []):
                name = obj["Key"][len(prefix):]
                if not name or "/" in name:
                    continue
                if not is_image_name(name):
                    skipped.append(name)
                    continue
                images.append(Image(name=name, size=obj.get("Size", 0), bucket=bucket, key=obj["Key"],
                                    etag=str(obj.get("ETag", "")).strip('"')))
            folders.extend(common["Prefix"][len(prefix):] for common in page.get("CommonPrefixes", []))
    except ClientError as error:
        details = error.response.get("Error", {})
        raise SourceError(f"could not list s3://{bucket}/{prefix}: {details.get('Code', 'Unknown')}: "
                          f"{details.get('Message', '')}") from error
    except BotoCoreError as error:
        raise SourceError(f"could not list s3://{bucket}/{prefix}: {error}") from error
    return Listing(sorted(images, key=lambda image: image.name), sorted(skipped), sorted(folders))


def folded(name: str) -> str:
    """``name`` as a disk that ignores case and how accents are written takes it (macOS's, Windows's): ``Page1``
    and ``page1``, or ``é`` composed and ``e`` with a combining accent, are one file there."""
    return unicodedata.normalize("NFC", name).casefold()


def check_unique_stems(images: list[Image], *, on_disk: bool = False) -> None:
    """Two images with one stem (``a.jpg``, ``a.png``) would write the same ``a.txt``: refuse. ``on_disk`` (texts
    written into a local folder): so would two stems that differ only in case or accents' form (``Page1.png``,
    ``page1.png``) on a disk that ignores them, one text overwriting the other: refuse those too."""
    seen: dict[str, Image] = {}
    for image in images:
        key = folded(image.stem) if on_disk else image.stem
        other = seen.get(key)
        if other is not None and other.stem == image.stem:
            raise SourceError(f"{other.label} and {image.label} would both write {image.stem}.txt; "
                              "rename one of them")
        if other is not None:
            why = ("an accent written two ways: one file on a macOS disk" if
                   unicodedata.normalize("NFC", other.stem) == unicodedata.normalize("NFC", image.stem) else
                   "one file on a disk that ignores case (macOS, Windows)")
            raise SourceError(f"{other.label} and {image.label} would write {shown(other.stem + '.txt')} and "
                              f"{shown(image.stem + '.txt')}, {why}; rename one of them")
        seen[key] = image
