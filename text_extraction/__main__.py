"""Extract the text of abstract page images with Amazon Textract and write a Ground Truth manifest.

For every .jpg/.jpeg/.png image directly inside INPUT (a local folder or an S3 prefix
s3://bucket/prefix/), Textract's text detection reads the page, the LINE blocks are joined into one
paragraph (single spaces; "exam-" + "ple" at a line break becomes "example"), the text is written
as a UTF-8 file <image stem>.txt, and an augmented manifest (JSON Lines) gets one line per image:

  {"source-ref": <S3 URI of the image>, "text-file-s3-uri": <S3 URI of the text>, "metadata": {...}}

metadata comes from --metadata FILE, a JSON object mapping image file names ("abstract-01.jpg")
to objects such as {"Title", "Author", "ISBN"}; an image without an entry gets {}.

Local folder input (synchronous DetectDocumentText on the image bytes, 10 MB limit per image):
  Output goes to --output-dir, laid out like the S3 prefix the user will upload it to (--s3-prefix):

    OUTPUT_DIR/abstracts/<stem>.txt   ->  S3_PREFIX/abstracts/<stem>.txt   (text-file-s3-uri)
    OUTPUT_DIR/pages/<image>          ->  S3_PREFIX/pages/<image>          (source-ref; copied only
                                                                            with --copy-pages)
    OUTPUT_DIR/manifest.jsonl         (default --manifest)

  Upload the pages to S3_PREFIX/pages/ (or use --copy-pages) and then
  `aws s3 sync --exclude '.*' OUTPUT_DIR S3_PREFIX/` (the hidden record of which scan each text came
  from stays local). --pages-folder and --texts-folder rename the two folders.
  --s3-prefix may be the literal ${DATA_PREFIX_URI}, which the ManifestBucket construct replaces
  with s3://<bucket>/<data_prefix> when it deploys a sample-data folder.

S3 prefix input (the images are listed with ListObjectsV2, every page followed):
  Each image gets an asynchronous job: StartDocumentTextDetection, then GetDocumentTextDetection
  every --poll-interval seconds until the job SUCCEEDED or FAILED (given up after --timeout), its
  results followed through every NextToken; --sync uses synchronous DetectDocumentText on the S3
  object instead. Textract must be able to read the bucket, in the client's region. The texts are
  written with PutObject under --output-prefix (default: an "abstracts/" folder beside the input
  prefix, e.g. s3://b/ner/pages/ -> s3://b/ner/abstracts/); source-ref is the image's own URI. The
  manifest (--manifest, a local path or an s3:// URI) defaults to manifest.jsonl beside the input
  prefix (s3://b/ner/manifest.jsonl).

Before Textract is called, each image is checked as NER pre-labeling will check it: a whole JPEG or
PNG (not empty, cut short, or another format under an image's name), at most 10 MB (Textract's limit
for a JPEG or PNG, synchronous and asynchronous alike), at most 10,000 pixels on a side and no side
under 15 pixels (Textract's largest image, and its smallest text's height; the size is read from the
image's header), a local file name that can be an S3 key (UTF-8, no control characters), and a
manifest line of at most 100,000 bytes. The text is cleaned (bidirectional controls dropped, control
characters made spaces) and refused when it has nothing visible or is over pre-labeling's
1,000,000-byte limit (never cut). Other files or objects in INPUT, and folders in it, are skipped and
named in one warning line (how many, and the first ten names). Two local images whose texts would be
one file on a disk that ignores case or accents' form (Page1.png and page1.jpg) are refused, naming
both, before anything is written.

Running again: an image whose text file is already in the output (a non-empty file, or an S3 object)
is not sent to Textract again and keeps its manifest line, so the same command run again after
failures or Ctrl-C reads only the images left. What each text was made from is recorded (local: the
image's SHA-256 in OUTPUT_DIR/.text-sources.json; S3: the image's ETag as the text object's metadata
source-etag), and an image replaced since its text was made is read again, and named. A text with no
record (written before records were kept) is kept, said once, and its image is then recorded as it
is now (an S3 text: copied onto itself with the metadata). --overwrite reads every image again. Text files and a local manifest are written whole or
not at all; the manifest is written anew each run, one line per image done, in the images' order, unless
--append keeps its lines as they are and adds a line at its end for each image done that it does not name yet (how a
labeling job under way takes more pages: it numbers its objects by line).

Errors: a failed Textract call or job, or an image that fails a check above, is reported with the
image's path or S3 URI and the reason; the other images are still processed, the failures are listed
at the end, and the manifest holds the images that succeeded (it is not written if none did).
Throttled and failed requests are retried by botocore (standard retry mode, up to 8 attempts).
Ctrl-C starts no other image, lets the ones being read finish, and writes the manifest of what is done.
Exit status: 0 all images done, 1 some failed, 2 unusable arguments or input, 130 interrupted.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

from botocore.exceptions import BotoCoreError

from . import textract_text
from .batch import BatchResult, Job, local_processor, run_batch, s3_processor
from .manifest import load_metadata, metadata_name, read_manifest, write_manifest, write_manifest_body
from .record import RecordError, load_record, record_path, write_record
from gt_common.input_manifest import appended, source_refs
from gt_common.s3uri import is_s3_uri

from .sources import (PLACEHOLDER, Listing, SourceError, as_prefix, check_unique_stems, list_local_images,
                      list_s3_images, parent_prefix, shown, split_s3_uri)

PROG = "python -m text_extraction"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", metavar="INPUT", help="a local folder of page images, or an S3 prefix s3://bucket/prefix/")
    local = parser.add_argument_group("local folder input")
    local.add_argument("--s3-prefix", metavar="URI",
                       help="S3 prefix the output will be uploaded to (s3://bucket/prefix or ${DATA_PREFIX_URI}); "
                            "required for a local INPUT")
    local.add_argument("--output-dir", metavar="DIR", type=Path,
                       help="folder for the text files (DIR/<texts-folder>/) and the manifest; required for a local INPUT")
    local.add_argument("--pages-folder", default="pages", metavar="NAME",
                       help="folder under --s3-prefix holding the page images (default: %(default)s)")
    local.add_argument("--texts-folder", default="abstracts", metavar="NAME",
                       help="folder under --s3-prefix and --output-dir holding the texts (default: %(default)s)")
    local.add_argument("--copy-pages", action="store_true",
                       help="also copy the images to DIR/<pages-folder>/ so DIR mirrors the S3 prefix")
    remote = parser.add_argument_group("S3 prefix input")
    remote.add_argument("--output-prefix", metavar="URI",
                        help="S3 prefix for the text files (default: <input's parent>/abstracts/)")
    remote.add_argument("--sync", action="store_true",
                        help="use synchronous DetectDocumentText on the S3 object instead of an asynchronous job")
    remote.add_argument("--poll-interval", type=float, default=textract_text.DEFAULT_POLL_INTERVAL, metavar="SECONDS",
                        help="seconds between GetDocumentTextDetection polls (default: %(default)g)")
    remote.add_argument("--timeout", type=float, default=textract_text.DEFAULT_TIMEOUT, metavar="SECONDS",
                        help="give up on a job still IN_PROGRESS after this long (default: %(default)g)")
    common = parser.add_argument_group("both")
    common.add_argument("--manifest", metavar="PATH_OR_URI",
                        help="where to write the manifest: a local path or s3://bucket/key "
                             "(default: DIR/manifest.jsonl, or manifest.jsonl beside an S3 INPUT)")
    common.add_argument("--metadata", metavar="FILE", type=Path,
                        help="JSON object mapping image file names to metadata objects (default: {} per image)")
    common.add_argument("--append", action="store_true",
                        help="keep the manifest's lines as they are and add a line at its end for each image done that "
                             "it does not name yet (how a labeling job under way takes more pages: its objects are "
                             "numbered by line); default: the manifest is written anew, in the images' order")
    common.add_argument("--overwrite", action="store_true",
                        help="read every image again, even one whose text file is already in the output")
    common.add_argument("--workers", type=int, default=4, metavar="N",
                        help="images processed in parallel (default: %(default)s)")
    common.add_argument("--region", help="AWS region for Textract and S3 (default: the SDK's configuration)")
    common.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def default_clients(region: str | None):
    """Textract and S3 clients with standard retries (Textract throttles at a few TPS)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 8})
    return (boto3.client("textract", region_name=region, config=config),
            boto3.client("s3", region_name=region, config=config))


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.poll_interval < 0 or args.timeout < 0:
        parser.error("--poll-interval and --timeout must not be negative")
    for name in ("pages_folder", "texts_folder"):
        value = getattr(args, name)
        if not value.strip("/") or value in (".", ".."):
            parser.error(f"--{name.replace('_', '-')} must be a folder name")
    if is_s3_uri(args.input):
        given = [flag for flag, value in (("--s3-prefix", args.s3_prefix), ("--output-dir", args.output_dir),
                                          ("--copy-pages", args.copy_pages)) if value]
        if given:
            parser.error(f"{', '.join(given)} only apply to a local INPUT folder")
    else:
        given = [flag for flag, value in (("--output-prefix", args.output_prefix), ("--sync", args.sync)) if value]
        if given:
            parser.error(f"{', '.join(given)} only apply to an S3 INPUT prefix")
        if not args.s3_prefix or not args.output_dir:
            parser.error("a local INPUT folder needs --s3-prefix and --output-dir")
        if args.s3_prefix != PLACEHOLDER and not is_s3_uri(args.s3_prefix):
            parser.error(f"--s3-prefix {args.s3_prefix!r} is not s3://bucket/prefix or {PLACEHOLDER}")


SHOWN_SKIPPED = 10  # names a warning lists before "and N more"


def first_names(names: list[str]) -> str:
    more = len(names) - SHOWN_SKIPPED
    return ", ".join(shown(name) for name in names[:SHOWN_SKIPPED]) + (f" and {more} more" if more > 0 else "")


def warn_skipped(listing: Listing, where: str, kind: str, stderr) -> None:
    """One warning line naming what is in the input but not read (the first few names of each): a user who named
    the wrong folder or prefix sees what is there instead."""
    parts = []
    if listing.skipped:
        parts.append(f"skipped {len(listing.skipped)} {kind}(s) {where} that are not .jpg, .jpeg or .png: "
                     f"{first_names(listing.skipped)} (a worker's browser does not show PDF or TIFF pages: convert "
                     "them to JPEG or PNG)")
    if listing.folders:
        parts.append(f"{'' if parts else 'skipped '}{len(listing.folders)} folder(s) {where}, not looked into (only "
                     f"images directly inside are read): {first_names(listing.folders)}")
    if parts:
        print("warning: " + "; ".join(parts), file=stderr)


def plan_local(args: argparse.Namespace, metadata: dict, record: dict, stderr) -> tuple[list[Job], str]:
    listing = list_local_images(Path(args.input))
    warn_skipped(listing, f"in {args.input}", "file", stderr)
    images = listing.images
    check_unique_stems(images, on_disk=True)
    base = args.s3_prefix.rstrip("/")
    if base != PLACEHOLDER:
        split_s3_uri(base, what="--s3-prefix")
    pages, texts = args.pages_folder.strip("/"), args.texts_folder.strip("/")
    jobs = [Job(image=image,
                source_ref=f"{base}/{pages}/{image.name}",
                text_uri=f"{base}/{texts}/{image.stem}.txt",
                text_path=args.output_dir / texts / f"{image.stem}.txt",
                page_copy=args.output_dir / pages / image.name if args.copy_pages else None,
                metadata=metadata.get(metadata_name(image.name), {}),
                made_from=record.get(f"{texts}/{image.stem}.txt", {}).get("sha256"))
            for image in images]
    return jobs, args.manifest or str(args.output_dir / "manifest.jsonl")


def read_record(output_dir: Path, stderr) -> dict:
    """The output folder's record of what its texts were made from; an unreadable one is named and taken as none
    (every kept text then counts as unrecorded: kept, not read again)."""
    try:
        return load_record(record_path(output_dir))
    except RecordError as error:
        print(f"warning: {error}; the texts already there are taken as made from the scans as they are now",
              file=stderr)
        return {}


def update_record(output_dir: Path, record: dict, done: list[Job], stderr) -> None:
    """Record what each text done in this run was made from (the others' entries stay as they were)."""
    if not done:
        return
    for job in done:
        record[job.text_path.relative_to(output_dir).as_posix()] = {"image": job.image.name, "sha256": job.source}
    try:
        write_record(record_path(output_dir), record)
    except OSError as error:
        print(f"warning: could not write {record_path(output_dir)}: {error}; a scan replaced before the next run "
              "will not be seen (--overwrite reads every image again)", file=stderr)


def plan_s3(args: argparse.Namespace, metadata: dict, s3, stderr) -> tuple[list[Job], str, str]:
    bucket, key = split_s3_uri(args.input, what="INPUT")
    prefix = as_prefix(key)
    if args.output_prefix:
        text_bucket, text_prefix = split_s3_uri(args.output_prefix, what="--output-prefix")
        text_prefix = as_prefix(text_prefix)
    else:
        text_bucket, text_prefix = bucket, parent_prefix(prefix) + "abstracts/"
    if text_bucket == bucket and text_prefix == prefix:
        raise SourceError("--output-prefix must differ from the INPUT prefix")
    listing = list_s3_images(s3, bucket, prefix)
    warn_skipped(listing, f"under s3://{bucket}/{prefix}", "object", stderr)
    images = listing.images
    check_unique_stems(images)  # S3 keys are case-sensitive: Page1.txt and page1.txt are two objects
    jobs = [Job(image=image,
                source_ref=f"s3://{bucket}/{image.key}",
                text_uri=f"s3://{text_bucket}/{text_prefix}{image.stem}.txt",
                metadata=metadata.get(metadata_name(image.name), {}))
            for image in images]
    return jobs, args.manifest or f"s3://{bucket}/{parent_prefix(prefix)}manifest.jsonl", text_bucket


def main(argv: Sequence[str] | None = None, *, textract=None, s3=None,
         sleep: Callable[[float], None] = time.sleep, stdout=None, stderr=None) -> int:
    """Run the CLI; ``textract`` and ``s3`` replace the default boto3 clients (tests inject them)."""
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)

    def clients():
        nonlocal textract, s3
        if textract is None or s3 is None:
            default_textract, default_s3 = default_clients(args.region)
            textract = textract or default_textract
            s3 = s3 or default_s3
        return textract, s3

    stop = threading.Event()
    try:
        metadata = load_metadata(args.metadata) if args.metadata else {}
        if is_s3_uri(args.input):
            textract, s3 = clients()
            jobs, manifest_to, text_bucket = plan_s3(args, metadata, s3, stderr)
            process = s3_processor(textract, s3, text_bucket=text_bucket, use_sync=args.sync, overwrite=args.overwrite,
                                   poll_interval=args.poll_interval, timeout=args.timeout, sleep=sleep, stop=stop)
        else:
            record = read_record(args.output_dir, stderr)
            jobs, manifest_to = plan_local(args, metadata, record, stderr)
            if textract is None:
                textract, _ = clients()
            process = local_processor(textract, overwrite=args.overwrite)
    except SourceError as error:
        print(f"error: {error}", file=stderr)
        return 2
    except BotoCoreError as error:  # no region, no credentials, ...
        print(f"error: could not set up the AWS clients: {error}", file=stderr)
        return 2
    if not jobs:
        print(f"error: no .jpg, .jpeg or .png images directly under {args.input}", file=stderr)
        return 2
    unknown = sorted(set(metadata) - {metadata_name(job.image.name) for job in jobs})
    if unknown:
        print(f"warning: --metadata names files that are not input images: {', '.join(map(shown, unknown))}",
              file=stderr)

    result = run_batch(jobs, process, workers=args.workers, progress=not args.no_progress, stream=stderr, stop=stop)
    local = not is_s3_uri(args.input)
    if local:
        update_record(args.output_dir, record, result.succeeded, stderr)
    return report(result, manifest_to, s3_client=lambda: clients()[1], stdout=stdout, stderr=stderr, local=local,
                  append=args.append)


def append_to_manifest(result: BatchResult, manifest_to: str, s3) -> tuple[int, int]:
    """``--append``: the manifest's lines kept as they are, a line added at its end for each image done that it does
    not name yet (by ``source-ref``); (lines added, lines in all). A manifest that cannot be read is left as it is."""
    earlier = read_manifest(manifest_to, s3=s3) or b""
    objects, named = source_refs(earlier, manifest_to)
    known = set(named)
    new = [job.manifest_line() for job in result.succeeded if job.source_ref not in known]
    if new:
        write_manifest_body(appended(earlier, new), manifest_to, s3=s3)
    return len(new), objects + len(new)


def report_sources(result: BatchResult, *, local: bool, stderr) -> None:
    """Say which kept texts were made again because their scan changed, and (once) that some had no record."""
    if result.redone:
        print(f"note: read again {len(result.redone)} image(s) replaced since their text was made (another "
              f"{'SHA-256' if local else 'ETag'} than the text was made from): "
              f"{first_names([job.image.label for job in result.redone])}", file=stderr)
    if result.unrecorded:
        now = "; their scans are recorded now, so a later change is seen"
        print(f"note: {len(result.unrecorded)} text(s) already there carry no record of the scan they were made "
              f"from (written before scans were recorded): taken as made from the scans as they are now{now}",
              file=stderr)


def report(result: BatchResult, manifest_to: str, *, s3_client, stdout, stderr, local: bool = True,
           append: bool = False) -> int:
    status = 0
    report_sources(result, local=local, stderr=stderr)
    if result.succeeded:
        s3 = s3_client() if is_s3_uri(manifest_to) else None
        try:
            written = (append_to_manifest(result, manifest_to, s3) if append else
                       write_manifest([job.manifest_line() for job in result.succeeded], manifest_to, s3=s3))
        except Exception as error:  # noqa: BLE001 - the texts are written; say where the manifest failed
            print(f"error: could not write the manifest to {manifest_to}: {error}", file=stderr)
            status = 1
        else:
            kept = (f" ({result.kept} of them already there, not read again; --overwrite reads them again)"
                    if result.kept else "")
            if append:
                added, lines = written
                print(f"{manifest_to}: {added} line(s) added at its end ({lines} in all); {len(result.succeeded)} "
                      f"image(s) with their text file{kept}", file=stdout)
            else:
                print(f"wrote the manifest {manifest_to}: {len(result.succeeded)} image(s) with their text file{kept}",
                      file=stdout)
    else:
        print("no image succeeded: the manifest was not written", file=stderr)
    total = len(result.failed) + len(result.succeeded) + len(result.not_done)
    if result.failed:
        print(f"{len(result.failed)} of {total} image(s) failed:", file=stderr)
        for failure in result.failed:
            print(f"  {failure.message}", file=stderr)
        status = 1
    if result.interrupted:
        print(f"interrupted: {len(result.not_done)} of {total} image(s) not read; run the same command again to "
              "read them (images with a text file are not read again)", file=stderr)
        status = 130
    return status


if __name__ == "__main__":
    sys.exit(main())
