"""`python -m local_ground_truth.folder_manifest FOLDER`: an input manifest naming the files of a data folder.

Ground Truth's console builds a manifest from an S3 folder of images ("automated data setup"): one line per file,
``{"source-ref": "s3://..."}``. This does the same for a data folder on this machine (``run_local.sh --data`` and the
``data`` setting of ``cdk.json`` take such a folder): one line per file, in natural order ("img-2" before "img-10"),
naming it as ``${DATA_PREFIX_URI}/<path in the folder>``, the address the folder is uploaded to. By default every
image a browser shows (``IMAGE_PATTERNS``); ``--match`` names other files (``'*.txt'`` for text files).

Left out: hidden files (never uploaded), the manifest and ``truth.json``, files no pattern matches (counted), and,
each named, a name that is not UTF-8 (an S3 key must be) and a link to outside the folder (the upload refuses the
folder until either is mended). A manifest that exists is not overwritten:
``--append`` adds the matching files it does not name yet at its end, leaving every earlier line as it is, which is
how a job under way takes more data (its objects are numbered by line). The file is written whole to a hidden
temporary file and renamed into place, so it is never left half written.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from gt_common.images import SHOWN_SUFFIXES
from gt_common.input_manifest import SOURCE_REF, appended, source_refs
from gt_common.limits import MAX_OBJECTS_PER_JOB
from labeling_constructs.data_prefix import DATA_PREFIX_PLACEHOLDER, name_problem
from local_ground_truth.wording import printable
from workflows.model import MANIFEST_FILE, TRUTH_FILE

#: The images every current browser shows in an ``<img>`` (gt_common.images checks their bytes), by file name.
IMAGE_PATTERNS = tuple(f"*{suffix}" for suffix in SHOWN_SUFFIXES)
#: Image files browsers do not show (gt_common.images names them): left out of an image manifest with a word on why.
NOT_SHOWN_SUFFIXES = {".heic": "HEIC", ".heif": "HEIC", ".tif": "TIFF", ".tiff": "TIFF", ".pdf": "PDF"}


class FolderManifestError(ValueError):
    """Why no manifest was written (named: the folder, the manifest's line, the problem)."""


@dataclass
class Listing:
    """The files of a folder a manifest names, in natural order, and those left out with the reason."""
    files: list[str] = field(default_factory=list)  # paths in the folder, "/"-separated
    left_out: dict[str, str] = field(default_factory=dict)  # path -> why (a problem)
    unmatched: list[str] = field(default_factory=list)  # paths that match no pattern
    patterns: Sequence[str] = IMAGE_PATTERNS


def natural_key(path: str) -> list:
    """Sort key putting "img-2" before "img-10": runs of digits compare as numbers, the rest case-blind."""
    return [(0, int(part), part) if part.isdigit() else (1, part.casefold(), part) for part in re.split(r"(\d+)", path)]


def source_ref(path: str) -> str:
    """The address of the folder's file ``path`` once uploaded: the deployment fills in the data prefix."""
    return f"{DATA_PREFIX_PLACEHOLDER}/{path}"


def list_folder(folder: Path, patterns: Sequence[str] = IMAGE_PATTERNS) -> Listing:
    """The files under ``folder`` whose names match one of ``patterns`` (case-blind), as ``Listing``."""
    listing, inside = Listing(patterns=tuple(patterns)), folder.resolve()
    for parent, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]  # hidden folders are not uploaded
        for name in files + [name for name in folders if (Path(parent) / name).is_symlink()]:
            path = Path(parent) / name
            # as the terminal shows it: bytes that are not UTF-8 and characters that are not printable escaped
            shown = printable(os.fsencode(path.relative_to(folder)).decode("utf-8", errors="backslashreplace"))
            relative = path.relative_to(folder).as_posix()
            if name.startswith(".") or relative in (MANIFEST_FILE, TRUTH_FILE):
                continue
            try:  # a problem the upload refuses the whole folder for, whatever the file's kind
                relative.encode("utf-8")
            except UnicodeEncodeError:
                listing.left_out[shown] = ("its name is not UTF-8 text, which an S3 key must be (the upload refuses "
                                           "the folder until it is renamed)")
                continue
            problem = name_problem(relative)
            if problem is not None:
                listing.left_out[shown] = f"{problem} (the upload refuses the folder until then)"
                continue
            if path.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):  # a loop (RuntimeError before Python 3.13), or a link to nothing
                    listing.left_out[shown] = f"a link to {os.readlink(path)}, which leads to no file"
                    continue
                if target != inside and inside not in target.parents:
                    listing.left_out[shown] = (f"a link to {target}, outside the folder (the upload refuses the "
                                               "folder until the file is copied in instead)")
                    continue
                if path.is_dir():  # a link to a folder inside: its files are listed through their own paths
                    continue
            if not any(fnmatch.fnmatch(name.casefold(), pattern.casefold()) for pattern in patterns):
                listing.unmatched.append(shown)
                continue
            listing.files.append(relative)
    listing.files.sort(key=natural_key)
    listing.unmatched.sort(key=natural_key)
    return listing


def named_sources(manifest: Path) -> tuple[int, list[str]]:
    """How many objects an existing manifest has (its lines that are not blank), and the ``source-ref`` of each
    (a line without one, such as a welding run's ``source``, names no file here)."""
    try:
        return source_refs(manifest.read_bytes(), str(manifest))
    except ValueError as error:
        raise FolderManifestError(f"{error}: fix it first (nothing was written)") from None


@dataclass
class Written:
    manifest: Path
    added: list[str]  # the files given a line now
    lines: int  # the manifest's lines after
    gone: list[str]  # files an earlier line names that are not in the folder (any more)
    listing: Listing


def write_manifest(folder: Path, patterns: Sequence[str] = IMAGE_PATTERNS, append: bool = False) -> Written:
    """Write (or with ``append``, extend) ``folder``'s manifest with a line per matching file; ``Written``."""
    if not folder.is_dir():
        raise FolderManifestError(f"{folder} is not a folder (nothing was written)")
    manifest = folder / MANIFEST_FILE
    earlier_body, earlier_objects, named = b"", 0, []
    if manifest.exists():
        if not append:
            raise FolderManifestError(
                f"{manifest} exists already: --append adds the files it does not name yet at its end (its lines "
                "stay as they are); to write it anew, delete it first (nothing was written)")
        earlier_body = manifest.read_bytes()
        earlier_objects, named = named_sources(manifest)
        if earlier_objects and not named:  # lines of another kind (a welding run's "source": a file naming two)
            raise FolderManifestError(
                f"{manifest}'s {earlier_objects} line(s) name no file by 'source-ref' (a welding run's 'source' is a "
                "file that names its image and sensor data): a line per image would be another kind of object, "
                "which its workflow cannot read; add its lines as the others are written (nothing was written)")
    listing = list_folder(folder, patterns)  # after the refusals above: a large folder is walked only to be used
    if not listing.files:
        raise FolderManifestError(f"no file in {folder} matches {', '.join(patterns)} (nothing was written)")
    known = set(named)
    added = [path for path in listing.files if source_ref(path) not in known]
    in_folder = {source_ref(path) for path in listing.files}
    gone = [source for source in named
            if source.startswith(DATA_PREFIX_PLACEHOLDER + "/") and source not in in_folder]
    if added:
        _replace(manifest, appended(earlier_body, ({SOURCE_REF: source_ref(path)} for path in added)))
    return Written(manifest, added, earlier_objects + len(added), gone, listing)


def _replace(path: Path, body: bytes) -> None:
    """Write ``body`` to ``path`` whole or not at all: a hidden temporary file beside it (never uploaded), renamed."""
    temporary = path.with_name(f".{path.name}.writing")
    try:
        with temporary.open("wb") as file:
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./scripts/folder_manifest.sh", description="An input manifest naming the files of a data folder.",
        epilog="examples: ./scripts/folder_manifest.sh ~/photos; ./scripts/folder_manifest.sh ~/notes --match "
               "'*.txt'; ./scripts/folder_manifest.sh ~/photos --append")
    parser.add_argument("folder", type=Path, help="the data folder (its manifest.jsonl is written there)")
    parser.add_argument("--match", action="append", metavar="PATTERN",
                        help="the file names to list, e.g. '*.txt' (repeat for more; case-blind); default: the "
                             f"images browsers show ({' '.join(IMAGE_PATTERNS)})")
    parser.add_argument("--append", action="store_true",
                        help="the manifest exists: add the matching files it does not name yet at its end")
    args = parser.parse_args(argv)
    try:
        written = write_manifest(args.folder, tuple(args.match or IMAGE_PATTERNS), args.append)
    except FolderManifestError as error:
        print(f"folder_manifest: {error}", file=sys.stderr)
        return 2
    for line in left_out_lines(written.listing):
        print(line, file=sys.stderr)
    for source in written.gone:
        print(f"a line names {printable(source)}, which is not in the folder (any more): the line is kept (removing "
              "it would renumber the objects after it)", file=sys.stderr)
    if written.lines > MAX_OBJECTS_PER_JOB:
        print(f"the manifest has {written.lines:,} lines, and a Ground Truth job takes at most "
              f"{MAX_OBJECTS_PER_JOB:,} objects: split the folder", file=sys.stderr)
    if not written.added:
        print(f"{written.manifest}: every matching file has a line already ({written.lines}); nothing was added")
    else:
        grown = written.lines > len(written.added)
        print(f"{written.manifest}: {len(written.added)} line(s) {'added at the end' if grown else 'written'} "
              f"({written.lines} in all). Next: ./scripts/run_local.sh --workflow WORKFLOW --data "
              f"{shlex.quote(str(args.folder.resolve()))}" + (" (a job served on this folder now takes the new objects "
                                                              "once the app is synthesized again, in seconds; a "
                                                              "stopped one, when that command runs again)"
                                                              if grown else ""))
    return 0


def left_out_lines(listing: Listing, shown: int = 5) -> list[str]:
    """What was left out, for the terminal: each file with a problem, named; images in a format browsers do not show,
    and the files matching no pattern, counted (a folder of images may hold thousands of other files) with the first
    few named."""
    lines = [f"left out {path}: {why}" for path, why in sorted(listing.left_out.items())]
    unmatched = listing.unmatched
    if tuple(listing.patterns) == IMAGE_PATTERNS:
        unshown = [path for path in unmatched if Path(path).suffix.casefold() in NOT_SHOWN_SUFFIXES]
        if unshown:
            kinds = sorted({NOT_SHOWN_SUFFIXES[Path(path).suffix.casefold()] for path in unshown})
            lines.append(f"left out {len(unshown)} image(s) in a format browsers do not show ({', '.join(kinds)}): "
                         f"convert them to JPEG or PNG and run this again with --append: {_first(unshown, shown)}")
            unmatched = [path for path in unmatched if Path(path).suffix.casefold() not in NOT_SHOWN_SUFFIXES]
    if unmatched:
        lines.append(f"left out {len(unmatched)} file(s) matching none of {', '.join(listing.patterns)} (--match "
                     f"names others): {_first(unmatched, shown)}")
    return lines


def _first(paths: Sequence[str], shown: int) -> str:
    return ", ".join(paths[:shown]) + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


if __name__ == "__main__":
    sys.exit(main())
