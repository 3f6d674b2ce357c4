"""A workflow's sample data in a test bucket, as the stack deploys it: every file of its folder but the known
answers, under ``<workflow>/``, and the manifest's ``${DATA_PREFIX_URI}`` pointing there."""
from __future__ import annotations

import json

from labeling_constructs.data_prefix import DATA_PREFIX_PLACEHOLDER
from workflows.model import MANIFEST_FILE, TRUTH_FILE, WorkflowDefinition


def upload_sample_data(s3, bucket: str, definition: WorkflowDefinition) -> list[dict]:
    """Upload ``definition``'s sample data to ``bucket``; its manifest lines, as the pre-labeling Lambda gets them."""
    folder = definition.sample_data_dir
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != TRUTH_FILE:
            s3.put_object(Bucket=bucket, Key=f"{definition.name}/{path.relative_to(folder).as_posix()}",
                          Body=path.read_bytes())
    text = (folder / MANIFEST_FILE).read_text(encoding="utf-8")
    return [json.loads(line.replace(DATA_PREFIX_PLACEHOLDER, f"s3://{bucket}/{definition.name}"))
            for line in text.splitlines() if line.strip()]
