"""Limits shared by the Lambda functions (pre-labeling, consolidation, expert review) and the tools that write
their input, each defined once."""
from __future__ import annotations

#: The largest text a worker is shown (UTF-8 bytes). Pre-labeling refuses longer texts; consolidation
#: uses it as the bound for character offsets when it has no record of the text's own length (a text
#: of this many bytes has at most this many code points).
MAX_TEXT_BYTES = 1_000_000

#: Ground Truth's limit on the size of a job, which bounds every count a job can produce: at most
#: 100,000 data objects a job. (How many workers answer each object is the job's own setting, which
#: Ground Truth passes to consolidation as the event's ``maxHumanWorkersPerDataObject``.)
MAX_OBJECTS_PER_JOB = 100_000

#: Ground Truth's limit on one input manifest line: at most 100 KB (UTF-8 bytes), since its pre-labeling request
#: carries the whole line. Checked where a manifest is written (the stack's sample data, text extraction) and
#: where expert review writes its review job's manifest.
MAX_MANIFEST_LINE_BYTES = 100_000

#: Lambda's limit on a synchronous invocation's response (6 MB): Ground Truth invokes both functions so, and a
#: larger response fails the whole invocation (Function.ResponseSizeTooLarge).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024

#: The largest file holding one worker's answer that is read: the annotation file consolidation is handed, and the
#: worker-response file Ground Truth keeps of it, which expert review reads again for the final quality report. A
#: worker's form is a few kilobytes (a NER answer with 10,000 spans is under 1 MB); a file far larger is skipped
#: unread rather than read into the function's memory. One bound for both, so an answer consolidation counted is
#: never left out of the final report for its size.
MAX_ANSWER_FILE_BYTES = 32 * 1024 * 1024
