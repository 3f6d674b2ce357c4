"""A local job's settings, recorded in its folder when it starts and compared when it resumes.

A job's answers, worker model and batches only make sense under the settings they were made with:
resumed with another number of workers per object, other questions or labels, another template or
another input manifest (whose line numbers are the objects' ids), the job would mix two jobs. So the
first run writes ``<job folder>/<job>-settings.json`` (``settings_path``: one per job name, as a job's
other files in its folder are named, so a fresh ``--job-name`` in the same ``--state-dir`` is a fresh
job) and every later run compares what it is about to
run with it; any difference stops the run, naming each setting that
differs and how to start a fresh job instead (another ``--job-name`` or ``--state-dir``). The check
runs once the stack's files are deployed (the manifest and template are compared as deployed) and
before the job itself is touched: its answers, labels and reports stay as they were, and a run with
the job's own settings deploys its stack's files again.

What is compared is what decides the labels: the workflow and its stack (a stack per environment),
the label attribute, workers per object, the questions and consolidation method the consolidation
function is configured with, the template and input manifest (by content), the output path, the
two functions' handlers, who answers (simulated workers or workers in a browser: simulated answers never
join real workers' job, whatever the number of workers per object), and the folder given with --data (another
folder of the same name makes the same default job name). A record written before a setting was
recorded (``LATER_SETTINGS``) is compared on the settings it holds, and on what the job itself shows of the others
(``record_inferred``: who answers, from the names of the workers who did). Titles, descriptions and time limits may
change between runs. A template that alone changed (an edited page, or a newer version of this project writing
it otherwise) is accepted when the run says so (``accept_template``): the page may still ask the same questions,
which only the requester can judge; the change is recorded with the settings (``template changes``). An input
manifest that only grew (lines added at its end, every earlier line as it was: ``appended_objects``) is no
difference either: object ids are line numbers, so the job's objects keep theirs and the new ones join the job; the
growth is recorded (``manifest growth``).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Optional

from gt_common.questions import METHOD_ENV, QUESTIONS_ENV
from local_ground_truth.job import manifest_objects
from local_ground_truth.s3_store import write_atomically
from local_ground_truth.stack_reader import WorkflowSpec

SETTINGS_SUFFIX = "-settings.json"
VERSION = 1
TEMPLATE = "UI template"
INPUT_MANIFEST = "input manifest"
ANSWERS = "answers"
SIMULATED, BROWSER = "simulated workers", "workers in a browser"
#: The folder given with --data: two folders of one name ("photos") make one default job name, and the second, of
#: like files, resumed the first one's job with its answers as the labels of other images.
DATA_FOLDER = "data folder"
APP_DATA = "the app's (its sample data, or the environment's data in cdk.json)"
#: Settings recorded only since a later version of the runner: a job whose record lacks one resumes as before.
LATER_SETTINGS = frozenset({ANSWERS, DATA_FOLDER})
#: The option of the runner that resumes a job under a changed template (``check_or_record``'s ``accept_template``).
ACCEPT_TEMPLATE_OPTION = "--accept-template"


class SettingsChanged(Exception):
    """The job was started with other settings; the message names each difference and the way out, ``changed`` the
    settings that differ."""

    def __init__(self, message: str, changed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.changed = changed


def job_settings(spec: WorkflowSpec, manifest: bytes, template: bytes, simulated: bool = False,
                 data: Optional[Path] = None) -> dict[str, Any]:
    """The settings of a job of ``spec``, with its input manifest and UI template as deployed (their digests);
    ``simulated``: answered by simulated workers (``--simulate-workers``); ``data``: the folder given with --data."""
    consolidation = spec.consolidation.environment
    questions = consolidation.get(QUESTIONS_ENV)
    try:
        questions = json.loads(questions) if questions else None
    except ValueError:
        pass  # compared as the text it is
    return {
        "workflow": spec.workflow,
        "stack": spec.stack_name,
        "label attribute": spec.label_attribute_name,
        "workers per object": spec.workers_per_object,
        "questions": questions,
        "consolidation method": consolidation.get(METHOD_ENV),
        TEMPLATE: f"{spec.task.ui_template.uri} (sha256 {hashlib.sha256(template).hexdigest()[:16]})",
        INPUT_MANIFEST: f"{spec.task.manifest.uri} (sha256 {hashlib.sha256(manifest).hexdigest()[:16]})",
        "output path": f"s3://{spec.task.output_bucket}/{spec.task.output_prefix}",
        "pre-labeling handler": spec.pre_labeling.handler,
        "consolidation handler": spec.consolidation.handler,
        ANSWERS: SIMULATED if simulated else BROWSER,
        DATA_FOLDER: APP_DATA if data is None else str(data),
    }


def settings_path(folder: Path, job_name: str) -> Path:
    """Where a job's settings are recorded in its folder."""
    return Path(folder) / f"{job_name}{SETTINGS_SUFFIX}"


#: How much of a setting a refusal shows, and how much of it before the first character that changed.
SHOWN_CHARS = 200
SHOWN_BEFORE_CHANGE = 60


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _shown(value: Any, other: Any = None) -> str:
    """``value`` as a refusal shows it: whole when short, else ``SHOWN_CHARS`` of it from just before where it first
    differs from ``other`` (the same setting's other value), so a change past the first 200 characters is seen."""
    text = _text(value)
    if len(text) <= SHOWN_CHARS:
        return text
    other_text = _text(other)
    first = next((i for i, (a, b) in enumerate(zip(text, other_text)) if a != b), min(len(text), len(other_text)))
    start = max(0, min(first - SHOWN_BEFORE_CHANGE, len(text) - SHOWN_CHARS))
    end = start + SHOWN_CHARS
    return ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")


def _differing(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The names of the settings that differ (one of ``LATER_SETTINGS`` only when the record holds it)."""
    return [name for name in current if recorded.get(name) != current.get(name)
            and (name in recorded or name not in LATER_SETTINGS)]


def differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """One line per setting that differs: ``<setting>: <recorded> when the job started, <current> now``."""
    return [f"{name}: {_shown(recorded.get(name), current.get(name))} when the job started, "
            f"{_shown(current.get(name), recorded.get(name))} now"
            for name in _differing(recorded, current)]


def recorded(folder: Path, job_name: str) -> Optional[dict[str, Any]]:
    """The settings recorded for ``job_name`` in ``folder``; None when there is no readable record."""
    try:
        record = json.loads(settings_path(folder, job_name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record.get("settings") if isinstance(record, dict) and isinstance(record.get("settings"), dict) else None


def record_inferred(folder: Path, job_name: str, name: str, value: Any, how: str) -> None:
    """Add setting ``name`` (one of ``LATER_SETTINGS``), which the job's record lacks, as ``value``, inferred from the
    job itself (``how`` says from what, kept in the record's ``inferred``): it is then compared as if recorded."""
    path = settings_path(folder, job_name)
    record = json.loads(path.read_text(encoding="utf-8"))
    record["settings"][name] = value
    record["inferred"] = {**(record.get("inferred") if isinstance(record.get("inferred"), dict) else {}), name: how}
    write_atomically(path, json.dumps(record, indent=2).encode("utf-8"), Path(folder))


def appended_objects(before: bytes, after: bytes) -> int:
    """How many objects ``after`` adds at the end of the input manifest ``before``, every line of ``before`` being an
    object of ``after`` as it was (read as JSON: its spacing and line ends may differ); 0 when it does not only grow."""
    try:
        old, new = (manifest_objects(body) for body in (before, after))
    except ValueError:
        return 0
    return len(new) - len(old) if len(new) > len(old) and new[:len(old)] == old else 0


def check_or_record(folder: Path, job_name: str, settings: dict[str, Any], started_with: Optional[str] = None,
                    accept_template: bool = False, grown_from: Optional[tuple[str, int]] = None) -> bool:
    """Compare ``settings`` with those recorded in ``folder`` (record them when none are): raise
    ``SettingsChanged`` when they differ; True when they were recorded now.

    ``started_with``: how the job is being started (e.g. ``--env dev``), recorded for the message a
    later run with other settings prints. ``accept_template``: a changed template alone is no difference; the
    new one is recorded (and the change kept in the record's ``template changes``). ``grown_from``: the input
    manifest's setting before the deployment about to be made, and how many objects that deployment appends to it
    (``appended_objects``): when it is the recorded one, the grown manifest is no difference (and is recorded).
    """
    path = settings_path(folder, job_name)
    if path.is_file():
        try:
            recorded = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(recorded, dict) or not isinstance(recorded.get("settings"), dict):
                raise ValueError("it holds no settings")
        except ValueError as error:
            raise SettingsChanged(f"cannot resume job {job_name} in {folder}: its {path.name} is unreadable "
                                  f"({str(error)[:200]}). Start a fresh job with another --job-name or "
                                  "--state-dir.") from None
        grew = (grown_from is not None and grown_from[1] > 0 and INPUT_MANIFEST in settings
                and recorded["settings"].get(INPUT_MANIFEST) == grown_from[0])
        if grew:
            history = recorded.get("manifest growth") if isinstance(recorded.get("manifest growth"), list) else []
            recorded = {**recorded, "settings": {**recorded["settings"], INPUT_MANIFEST: settings[INPUT_MANIFEST]},
                        "manifest growth": [*history, {"from": grown_from[0], "to": settings[INPUT_MANIFEST],
                                                       "objects added": grown_from[1]}]}
        changed = differences(recorded["settings"], settings)
        only_template = _differing(recorded["settings"], settings) == [TEMPLATE]
        if grew and not changed:
            write_atomically(path, json.dumps(recorded, indent=2).encode("utf-8"), Path(folder))
            return False
        if only_template and accept_template:
            history = recorded.get("template changes") if isinstance(recorded.get("template changes"), list) else []
            record = {**recorded, "settings": {**recorded["settings"], TEMPLATE: settings[TEMPLATE]},
                      "template changes": [*history, {"from": recorded["settings"].get(TEMPLATE),
                                                      "to": settings[TEMPLATE]}]}
            write_atomically(path, json.dumps(record, indent=2).encode("utf-8"), Path(folder))
            return False
        if changed:
            how = f" ({recorded['started with']})" if recorded.get("started with") else ""
            template = (f"Only the template changed (an edited page, or a newer version of this project writing it "
                        f"otherwise): if the page still asks the same questions, {ACCEPT_TEMPLATE_OPTION} resumes the "
                        "job under it, keeping the answers given on the earlier page. ") if only_template else ""
            raise SettingsChanged(
                f"cannot resume job {job_name} in {folder}: it was started with other settings, and resuming would "
                "mix answers and labels made under both:\n" + "".join(f"  - {line}\n" for line in changed)
                + template + f"Run it with the settings it was started with{how}, or start a fresh job with another "
                f"--job-name (e.g. --job-name {job_name}-2) or --state-dir; or, when its answers are not wanted "
                f"(trying out a changed workflow), delete {folder} and run the same command again.",
                changed=tuple(_differing(recorded["settings"], settings)))
        return False
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    record = {"version": VERSION, "job": job_name, "settings": settings}
    if started_with:
        record["started with"] = started_with
    write_atomically(path, json.dumps(record, indent=2).encode("utf-8"), folder)  # on disk before the job starts
    return True
