"""What the runner says on the terminal: each message a line of its own on stderr."""
from __future__ import annotations

import sys


def say(message: str) -> None:
    sys.stderr.write(message + "\n")  # one write: lines said by threads at once do not run together
    sys.stderr.flush()
