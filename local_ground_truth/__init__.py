"""The local Ground Truth runner: a whole labeling job on one machine, with the stack's own parts.

The runner shares the Lambdas' own definitions (``lambda_src/gt_common``: data-object shapes, limits)
rather than keeping copies, so ``lambda_src`` is put on the import path here.
"""
from labeling_constructs.lambda_dependencies import import_lambda_src  # imports no aws_cdk

import_lambda_src()
