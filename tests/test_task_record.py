"""gt_common.task_record: what pre-labeling showed a worker, read back by consolidation."""
from __future__ import annotations

import pytest

from gt_common.s3uri import InputError
from gt_common.task_record import data_object_of, read_record, write_record


def test_a_record_written_for_a_manifest_line_is_read_back_by_its_payload_data_object(s3, bucket):
    env = {"TASK_RECORDS_URI": f"s3://{bucket}/derived/task-records/"}
    line = {"source-ref": "s3://data/pages/a.jpg", "text-file-s3-uri": "s3://data/texts/a.txt"}
    location = write_record(s3, line, {"textLength": 42}, environ=env)
    assert location.key.startswith("derived/task-records/") and location.key.endswith(".json")
    assert read_record(s3, {"s3Uri": "s3://data/pages/a.jpg"}, environ=env) == {"textLength": 42}
    # Inline sources are keyed by their content, as Ground Truth's payload carries them.
    write_record(s3, {"source": "short text"}, {"textLength": 10}, environ=env)
    assert read_record(s3, {"content": "short text"}, environ=env) == {"textLength": 10}


def test_without_a_records_folder_nothing_is_written_and_nothing_is_read(s3, bucket):
    assert write_record(s3, {"source": "x"}, {"textLength": 1}, environ={}) is None
    assert read_record(s3, {"content": "x"}, environ={}) is None


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"textLength": Infinity}', b"[" * 100_000 + b"]" * 100_000])
def test_an_unusable_record_reads_as_none(s3, bucket, body):
    env = {"TASK_RECORDS_URI": f"s3://{bucket}/records/"}
    location = write_record(s3, {"source": "x"}, {"textLength": 1}, environ=env)
    s3.put_object(Bucket=bucket, Key=location.key, Body=body)
    assert read_record(s3, {"content": "x"}, environ=env) is None


def test_a_missing_record_and_a_line_without_a_source_are_named():
    with pytest.raises(InputError, match="neither 'source-ref' nor 'source'"):
        data_object_of({"text-file-s3-uri": "s3://b/k"})
