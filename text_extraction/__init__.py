"""Text extraction for abstract page images with Amazon Textract: ``python -m text_extraction --help``.

Modules: ``textract_text`` (the Textract calls, job polling and pagination, LINE assembly, the checks
before a call; an image's size in pixels is read by ``gt_common.image_header``), ``sources`` (finding the
images locally or in S3), ``manifest`` (metadata file and JSON Lines), ``record`` (what each kept text
was made from), ``batch`` (per-image jobs, thread pool, progress bar, failures) and ``__main__`` (the CLI).
"""

import workflows  # noqa: E402,F401 - puts the project's shared library (lambda_src/gt_common) on the import path
