"""local_ground_truth.folder_manifest: a data folder's manifest, a line per file, written whole or not at all."""
from __future__ import annotations

import json
import os

import pytest

from local_ground_truth import folder_manifest
from local_ground_truth.folder_manifest import FolderManifestError, list_folder, main, write_manifest

PNG = b"\x89PNG\r\n\x1a\n"  # what a file holds does not matter here: pre-labeling checks the images


def files(folder, *names):
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(PNG)
    return folder


def sources(folder):
    return [json.loads(line)["source-ref"] for line in (folder / "manifest.jsonl").read_text("utf-8").splitlines()]


def test_every_image_gets_a_line_in_natural_order_naming_its_uploaded_address(tmp_path):
    files(tmp_path, "img-10.jpg", "img-2.JPG", "img-1.png", "sub/Ünï code.webp", "scan.avif", "a.gif", "x.jpeg")
    written = write_manifest(tmp_path)
    assert sources(tmp_path) == ["${DATA_PREFIX_URI}/" + name for name in (
        "a.gif", "img-1.png", "img-2.JPG", "img-10.jpg", "scan.avif", "sub/Ünï code.webp", "x.jpeg")]
    assert "Ünï code" in (tmp_path / "manifest.jsonl").read_text("utf-8")  # UTF-8, not \u escapes
    assert written.added == [source.split("}/", 1)[1] for source in sources(tmp_path)] and written.lines == 7


def test_hidden_files_the_manifest_the_truth_and_other_kinds_are_left_out(tmp_path):
    files(tmp_path, "a.png", ".DS_Store", ".thumbs/b.png", "sub/.c.png", "truth.json", "notes.csv", "run.csv")
    written = write_manifest(tmp_path)
    assert sources(tmp_path) == ["${DATA_PREFIX_URI}/a.png"]
    assert written.listing.unmatched == ["notes.csv", "run.csv"] and written.listing.left_out == {}
    assert write_manifest(tmp_path, append=True).added == []  # the manifest it wrote is not an image of its own


def test_match_names_other_files_case_blind(tmp_path):
    files(tmp_path, "a.TXT", "b.txt", "c.png")
    write_manifest(tmp_path, ("*.txt",))
    assert sources(tmp_path) == ["${DATA_PREFIX_URI}/a.TXT", "${DATA_PREFIX_URI}/b.txt"]


def test_an_existing_manifest_is_not_overwritten(tmp_path):
    files(tmp_path, "a.png")
    (tmp_path / "manifest.jsonl").write_text('{"source": "mine"}\n')
    with pytest.raises(FolderManifestError, match="manifest.jsonl exists already: --append adds"):
        write_manifest(tmp_path)
    assert (tmp_path / "manifest.jsonl").read_text() == '{"source": "mine"}\n'


def test_append_adds_the_new_files_at_the_end_and_keeps_every_earlier_byte(tmp_path):
    """A job under way numbers its objects by line: the earlier lines stay exactly as they were (a byte-order mark,
    CRLF, a last line without its newline, a line naming a file since deleted), the new files come after."""
    files(tmp_path, "img-1.png", "img-3.png", "img-20.png")
    earlier = ('\ufeff{"source-ref": "${DATA_PREFIX_URI}/img-1.png", "id": "first"}\r\n'
               '{"source-ref": "${DATA_PREFIX_URI}/img-2.png"}').encode("utf-8")
    (tmp_path / "manifest.jsonl").write_bytes(earlier)
    written = write_manifest(tmp_path, append=True)
    body = (tmp_path / "manifest.jsonl").read_bytes()
    assert body.startswith(earlier + b"\r\n")
    assert body[len(earlier) + 2:].decode().splitlines() == [
        '{"source-ref": "${DATA_PREFIX_URI}/img-3.png"}', '{"source-ref": "${DATA_PREFIX_URI}/img-20.png"}']
    assert written.added == ["img-3.png", "img-20.png"] and written.lines == 4
    assert written.gone == ["${DATA_PREFIX_URI}/img-2.png"]
    again = write_manifest(tmp_path, append=True)
    assert again.added == [] and (tmp_path / "manifest.jsonl").read_bytes() == body


def test_append_to_a_manifest_of_another_kind_of_line_is_refused_and_nothing_written(tmp_path):
    """A welding folder's lines name a run's dataset file ("source"): --append added a "source-ref" line per image,
    objects its pre-labeling cannot read, which a job under way could never take back."""
    files(tmp_path, "images/run-01.jpg", "images/run-02.jpg")
    earlier = b'{"source": "${DATA_PREFIX_URI}/datasets/dataset-01.json"}\n'
    (tmp_path / "manifest.jsonl").write_bytes(earlier)
    with pytest.raises(FolderManifestError, match="1 line\\(s\\) name no file by 'source-ref'"):
        write_manifest(tmp_path, append=True)
    assert (tmp_path / "manifest.jsonl").read_bytes() == earlier


def test_an_unreadable_line_in_the_manifest_is_named_and_nothing_written(tmp_path):
    files(tmp_path, "a.png", "b.png")
    (tmp_path / "manifest.jsonl").write_text('{"source-ref": "${DATA_PREFIX_URI}/a.png"}\n{"source-ref": \n')
    with pytest.raises(FolderManifestError, match="manifest.jsonl line 2 is not JSON"):
        write_manifest(tmp_path, append=True)
    (tmp_path / "manifest.jsonl").write_bytes(b"\xff\xfe{}\n")
    with pytest.raises(FolderManifestError, match="is not UTF-8 text"):
        write_manifest(tmp_path, append=True)


def test_a_manifests_lines_without_a_file_count_as_objects_too(tmp_path):
    files(tmp_path, "a.png", "b.png")
    (tmp_path / "manifest.jsonl").write_text('{"source": "an inline text"}\n\n'
                                             '{"source-ref": "${DATA_PREFIX_URI}/b.png"}\n')
    written = write_manifest(tmp_path, append=True)
    assert written.added == ["a.png"] and written.lines == 3 and written.gone == []


def test_a_link_outside_the_folder_and_a_name_that_is_not_utf8_are_named_and_left_out(tmp_path):
    folder = files(tmp_path / "data", "a.png", "inside/b.png")
    outside = files(tmp_path, "secret.png") / "secret.png"
    (folder / "link-out.png").symlink_to(outside)
    (folder / "link-in.png").symlink_to(folder / "a.png")  # a link within the folder is uploaded as it is
    (folder / "linked-folder").symlink_to(folder / "inside")
    (folder / "more").symlink_to(tmp_path)  # a folder outside, whatever its name: the upload refuses it
    (folder / os.fsdecode(b"caf\xe9.png")).write_bytes(PNG)  # Latin-1 bytes: not UTF-8
    listing = list_folder(folder)
    assert listing.files == ["a.png", "inside/b.png", "link-in.png"]
    assert set(listing.left_out) == {"link-out.png", "caf\\xe9.png", "more"} and listing.unmatched == []
    assert "outside the folder" in listing.left_out["link-out.png"] and str(outside) in listing.left_out["link-out.png"]
    assert "not UTF-8" in listing.left_out["caf\\xe9.png"]


def test_names_the_data_path_cannot_carry_and_links_to_nothing_are_named_and_the_rest_written(tmp_path, capsys):
    """A line break in a name ended the whole local run (the S3 endpoint refuses such a key) after a manifest line was
    written for it; a marker in a name was filled in by the deployment; a link loop was a traceback and no manifest."""
    folder = files(tmp_path / "data", "a.png", "new\nline.png", "tab\there.png", "x${DATA_PREFIX_URI}.png",
                   "esc\x1b[31m.png")
    (folder / "loop.png").symlink_to("loop.png")
    (folder / "gone.png").symlink_to(folder / "deleted.png")
    assert main([str(folder)]) == 0
    assert sources(folder) == ["${DATA_PREFIX_URI}/a.png"]
    err = capsys.readouterr().err.splitlines()
    assert err == [  # one line each, the name escaped as the terminal would otherwise act on it
        "left out esc\\x1b[31m.png: its name holds a line break, a tab or another control character: rename it (the "
        "upload refuses the folder until then)",
        f"left out gone.png: a link to {folder / 'deleted.png'}, which leads to no file",
        "left out loop.png: a link to loop.png, which leads to no file",
        "left out new\\nline.png: its name holds a line break, a tab or another control character: rename it (the "
        "upload refuses the folder until then)",
        "left out tab\\there.png: its name holds a line break, a tab or another control character: rename it (the "
        "upload refuses the folder until then)",
        "left out x${DATA_PREFIX_URI}.png: its name holds '${', which the deployment reads as the start of a marker "
        "such as ${DATA_PREFIX_URI} and fills in: rename it (the upload refuses the folder until then)",
    ]


def test_a_folder_without_a_matching_file_or_no_folder_writes_nothing(tmp_path):
    files(tmp_path, "notes.csv")
    with pytest.raises(FolderManifestError, match=r"no file in .* matches \*\.jpg, .*nothing was written"):
        write_manifest(tmp_path)
    with pytest.raises(FolderManifestError, match="is not a folder"):
        write_manifest(tmp_path / "missing")
    assert not (tmp_path / "manifest.jsonl").exists()


def test_a_write_that_fails_leaves_the_manifest_as_it_was(tmp_path, monkeypatch):
    files(tmp_path, "a.png", "b.png")
    (tmp_path / "manifest.jsonl").write_text('{"source-ref": "${DATA_PREFIX_URI}/a.png"}\n')

    def full_disk(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(folder_manifest.os, "replace", full_disk)
    with pytest.raises(OSError):
        write_manifest(tmp_path, append=True)
    assert (tmp_path / "manifest.jsonl").read_text() == '{"source-ref": "${DATA_PREFIX_URI}/a.png"}\n'
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.png", "b.png", "manifest.jsonl"]


def test_the_command_says_what_it_wrote_left_out_and_what_a_job_cannot_take(tmp_path, capsys, monkeypatch):
    files(tmp_path, *(f"run-{n}.csv" for n in range(8)), "a.png", "b.png", "c.png")
    monkeypatch.setattr(folder_manifest, "MAX_OBJECTS_PER_JOB", 2)
    assert main([str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert f"{tmp_path / 'manifest.jsonl'}: 3 line(s) written (3 in all)" in out
    assert f"--data {tmp_path}\n" in out  # the folder's whole path: run_local.sh runs from the project
    assert ("left out 8 file(s) matching none of *.jpg, *.jpeg, *.png, *.gif, *.webp, *.avif (--match names others): "
            "run-0.csv, run-1.csv, run-2.csv, run-3.csv, run-4.csv and 3 more") in err
    assert "the manifest has 3 lines, and a Ground Truth job takes at most 2 objects" in err
    assert main([str(tmp_path)]) == 2
    assert "exists already" in capsys.readouterr().err
    files(tmp_path, "d.png")
    assert main([str(tmp_path), "--append"]) == 0
    out = capsys.readouterr().out
    assert "1 line(s) added at the end (4 in all)" in out and "now takes the new objects once the app is synthesized again" in out


def test_the_script_reads_the_folder_from_where_it_is_run(tmp_path):
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "folder_manifest.sh"
    files(tmp_path / "photos", "b.png", "a.png")
    result = subprocess.run([str(script), "photos"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("photos/manifest.jsonl: 2 line(s) written (2 in all)")
    assert f"--data {tmp_path / 'photos'}" in result.stdout
    assert sources(tmp_path / "photos") == ["${DATA_PREFIX_URI}/a.png", "${DATA_PREFIX_URI}/b.png"]


def test_photos_and_scans_browsers_do_not_show_are_named_with_what_to_do(tmp_path, capsys):
    files(tmp_path, "a.jpg", "IMG_0001.HEIC", "IMG_0002.heif", "scan.tif", "notes.csv")
    assert main([str(tmp_path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert ("left out 3 image(s) in a format browsers do not show (HEIC, TIFF): convert them to JPEG or PNG and run "
            "this again with --append: IMG_0001.HEIC, IMG_0002.heif, scan.tif") in err
    assert any(line.startswith("left out 1 file(s) matching none of") and line.endswith(": notes.csv") for line in err)
    assert sources(tmp_path) == ["${DATA_PREFIX_URI}/a.jpg"]


def test_run_local_reads_relative_paths_from_where_it_is_run(tmp_path):
    """run_local.sh runs the runner from the project: `--data ./welds` typed in another folder was looked for in the
    project, and refused naming a folder the user never typed."""
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "run_local.sh"
    (tmp_path / "welds").mkdir()
    result = subprocess.run([str(script), "--data", "./welds"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    assert f"--data {tmp_path / 'welds'}: not a folder with a manifest.jsonl" in result.stderr
