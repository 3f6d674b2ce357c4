"""The marker a data folder's text files (its manifest, the JSON files beside it) write for the folder's own address
in S3: ``ManifestBucket`` replaces it with ``s3://<bucket>/<data prefix>`` when it deploys the folder. Defined here
alone, importable without aws_cdk, for the tools that write data folders (the sample-data generators, text
extraction, the scaffold, ``local_ground_truth.folder_manifest``)."""
DATA_PREFIX_PLACEHOLDER = "${DATA_PREFIX_URI}"
