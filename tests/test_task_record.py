"""gt_common.task_record: what pre-labeling showed or knew about an object, read back by consolidation."""
from __future__ import annotations

import logging

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from gt_common.labeling_job import job_name_of_event
from gt_common.s3uri import InputError
from gt_common.task_record import (OBJECTS_PER_LISTED_PAGE, RECORDS_ENV, data_object_of, read_record, read_records,
                                   record_location, records_location, write_record)


def test_a_record_written_for_a_manifest_line_is_read_back_by_its_payload_data_object(s3, bucket):
    env = {RECORDS_ENV: f"s3://{bucket}/derived/task-records/"}
    line = {"source-ref": "s3://data/pages/a.jpg", "text-file-s3-uri": "s3://data/texts/a.txt"}
    location = write_record(s3, line, {"textLength": 42}, "job-1", environ=env)
    assert location.key.startswith("derived/task-records/job-1/") and location.key.endswith(".json")
    assert read_record(s3, {"s3Uri": "s3://data/pages/a.jpg"}, "job-1", environ=env) == {"textLength": 42}
    # Inline sources are keyed by their content, as Ground Truth's payload carries them.
    write_record(s3, {"source": "short text"}, {"textLength": 10}, "job-1", environ=env)
    assert read_record(s3, {"content": "short text"}, "job-1", environ=env) == {"textLength": 10}


def test_a_record_belongs_to_its_job(s3, bucket):
    env = {RECORDS_ENV: f"s3://{bucket}/records/"}
    write_record(s3, {"source": "x"}, {"gold": {"q": "A"}}, "earlier-job", environ=env)
    assert read_record(s3, {"content": "x"}, "later-job", environ=env) is None
    assert read_records(s3, {"1": {"content": "x"}}, "later-job", environ=env) == {"1": None}
    assert read_records(s3, {"1": {"content": "x"}}, "earlier-job", environ=env) == {"1": {"gold": {"q": "A"}}}


def test_an_empty_record_is_not_written(s3, bucket):
    env = {RECORDS_ENV: f"s3://{bucket}/records/"}
    assert write_record(s3, {"source": "x"}, {}, "job-1", environ=env) is None
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_without_a_records_folder_nothing_is_written_and_nothing_is_read(s3, bucket):
    assert write_record(s3, {"source": "x"}, {"textLength": 1}, "job-1", environ={}) is None
    assert read_record(s3, {"content": "x"}, "job-1", environ={}) is None
    assert read_records(s3, {"1": {"content": "x"}}, "job-1", environ={}) == {}


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"textLength": Infinity}', b"[" * 100_000 + b"]" * 100_000])
def test_an_unusable_record_reads_as_none(s3, bucket, body):
    env = {RECORDS_ENV: f"s3://{bucket}/records/"}
    location = write_record(s3, {"source": "x"}, {"textLength": 1}, "job-1", environ=env)
    s3.put_object(Bucket=bucket, Key=location.key, Body=body)
    assert read_record(s3, {"content": "x"}, "job-1", environ=env) is None
    assert read_records(s3, {"7": {"content": "x"}, "8": {"content": "y"}}, "job-1", environ=env) == {"7": None,
                                                                                                      "8": None}


class CountingS3:
    """The real client, counting what a batch asks of S3."""

    def __init__(self, s3, listing_fails: Exception | None = None):
        self.s3, self.listing_fails, self.gets, self.lists = s3, listing_fails, [], 0

    def get_object(self, **kwargs):
        self.gets.append(kwargs["Key"])
        return self.s3.get_object(**kwargs)

    def list_objects_v2(self, **kwargs):
        self.lists += 1
        if self.listing_fails is not None:
            raise self.listing_fails
        return self.s3.list_objects_v2(**kwargs)


def batch(count: int) -> dict[str, dict[str, str]]:
    return {str(i): {"content": f"s3://data/run-{i}.json"} for i in range(count)}


def test_a_batch_reads_only_the_records_its_job_holds(s3, bucket):
    env = {RECORDS_ENV: f"s3://{bucket}/records/"}
    objects = batch(100)
    for object_id in ("3", "50"):
        write_record(s3, {"source": objects[object_id]["content"]}, {"gold": {"q": object_id}}, "job-1", environ=env)
    counting = CountingS3(s3)
    found = read_records(counting, objects, "job-1", environ=env)
    assert found == {**dict.fromkeys(objects), "3": {"gold": {"q": "3"}}, "50": {"gold": {"q": "50"}}}
    assert counting.lists == 1 and len(counting.gets) == 2  # not a request per object


def test_a_folder_too_large_to_list_for_the_batch_means_reading_each_record(s3, bucket):
    env = {RECORDS_ENV: f"s3://{bucket}/records/"}
    folder = records_location(env)
    # More keys than one page holds: a batch of OBJECTS_PER_LISTED_PAGE objects may list one page only.
    s3.put_object(Bucket=bucket, Key=record_location(folder, {"content": "s3://data/run-0.json"}, "job-1").key,
                  Body=b'{"gold": {"q": "0"}}')
    for number in range(1001):
        s3.put_object(Bucket=bucket, Key=f"records/job-1/other-{number:04d}.json", Body=b"{}")
    try:
        objects = batch(OBJECTS_PER_LISTED_PAGE)
        counting = CountingS3(s3)
        found = read_records(counting, objects, "job-1", environ=env)
        assert found["0"] == {"gold": {"q": "0"}} and all(found[str(i)] is None for i in range(1, len(objects)))
        assert counting.lists == 1 and len(counting.gets) == len(objects)
    finally:
        keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for item in page.get("Contents", [])]
        for start in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys[start:start + 1000]]})


@pytest.mark.parametrize("failure, named", [
    (ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "ListObjectsV2"), "AccessDenied"),
    (EndpointConnectionError(endpoint_url="https://s3.example"), "EndpointConnectionError"),
])
def test_a_folder_that_cannot_be_listed_means_reading_each_record(s3, bucket, caplog, failure, named):
    env = {RECORDS_ENV: f"s3://{bucket}/records/"}
    objects = batch(5)
    write_record(s3, {"source": objects["2"]["content"]}, {"gold": {"q": "2"}}, "job-1", environ=env)
    counting = CountingS3(s3, listing_fails=failure)
    with caplog.at_level(logging.WARNING):
        found = read_records(counting, objects, "job-1", environ=env)
    assert found == {**dict.fromkeys(objects), "2": {"gold": {"q": "2"}}} and len(counting.gets) == 5
    assert f"could not be listed ({named})" in caplog.text
    assert "not readable" not in caplog.text  # a record that is not there is no error: nothing to keep


@pytest.mark.parametrize("arn, name", [
    ("arn:aws:sagemaker:us-east-1:123456789012:labeling-job/welding-7", "welding-7"),
    ("arn:aws-cn:sagemaker:cn-north-1:123456789012:labeling-job/A1", "A1"),
    ("arn:aws:sagemaker:local:000000000000:labeling-job/local-ticket_triage", "local-ticket_triage"),
    (None, ""),
])
def test_the_job_is_named_by_the_events_arn(arn, name):
    event = {"dataObject": {}} if arn is None else {"labelingJobArn": arn}
    assert job_name_of_event(event) == name


@pytest.mark.parametrize("arn", ["arn:aws:sagemaker:us-east-1:1:labeling-job/../../x", "arn:aws:s3:::bucket",
                                 "arn:aws:sagemaker:us-east-1:1:labeling-job/", 42,
                                 "arn:aws:sagemaker:us-east-1:1:labeling-job/a/b", "arn:aws:sagemaker:r:1:labeling-job/-a",
                                 "arn:aws:sagemaker:r:1:labeling-job/a.b", "arn:aws:sagemaker:r:1:labeling-job/..",
                                 "arn:aws:sagemaker:r:1:labeling-job/" + "a" * 64])
def test_an_arn_that_names_no_job_is_refused(arn):
    with pytest.raises(InputError, match="is not a labeling job's ARN"):
        job_name_of_event({"labelingJobArn": arn})


def test_a_missing_record_and_a_line_without_a_source_are_named():
    with pytest.raises(InputError, match="neither 'source-ref' nor 'source'"):
        data_object_of({"text-file-s3-uri": "s3://b/k"})
