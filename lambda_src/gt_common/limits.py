"""Limits shared by the pre-labeling and consolidation functions, each defined once."""
from __future__ import annotations

#: The largest text a worker is shown (UTF-8 bytes). Pre-labeling refuses longer texts; consolidation
#: uses it as the bound for character offsets when it has no record of the text's own length (a text
#: of this many bytes has at most this many code points).
MAX_TEXT_BYTES = 1_000_000
