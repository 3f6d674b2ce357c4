"""The local Ground Truth runner: a whole labeling job on one machine, with the stack's own parts.

The runner shares the Lambdas' own definitions (``lambda_src/gt_common``: data-object shapes, limits)
rather than keeping copies, so ``lambda_src`` is put on the import path here.
"""
import sys
from pathlib import Path

_LAMBDA_SRC = str(Path(__file__).resolve().parent.parent / "lambda_src")
if _LAMBDA_SRC not in sys.path:
    sys.path.append(_LAMBDA_SRC)
