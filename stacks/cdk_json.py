"""``cdk.json``'s context, read here for everything that needs it outside the CDK CLI: the app run on its own
(``python app.py``), the local runner and ``scripts/synth.sh``. Imports no aws_cdk.

``python -m stacks.cdk_json [CDK_JSON]`` prints the default environment's name (what ``scripts/synth.sh``
synthesizes when given none).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

CDK_JSON_FILE = "cdk.json"
CDK_JSON = Path(__file__).resolve().parent.parent / CDK_JSON_FILE
#: The context key naming the environment used when none is given (``-c env=<name>``, the runner's ``--env``).
DEFAULT_ENVIRONMENT = "defaultEnvironment"


def file_context(cdk_json: Optional[Path] = None) -> dict[str, Any]:
    """The ``context`` object of ``cdk_json`` (default: the project's)."""
    return json.loads(Path(cdk_json or CDK_JSON).read_text()).get("context", {})


def default_environment(cdk_json: Optional[Path] = None) -> str:
    """The environment ``cdk_json`` (default: the project's) names as its ``defaultEnvironment``."""
    cdk_json = Path(cdk_json or CDK_JSON)
    name = file_context(cdk_json).get(DEFAULT_ENVIRONMENT)
    if not isinstance(name, str) or not name:
        raise ValueError(f"{cdk_json}: context {DEFAULT_ENVIRONMENT!r} must name the environment used when none is "
                         f"given (-c env=<name>), not {name!r}")
    return name


if __name__ == "__main__":
    try:
        print(default_environment(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
    except (OSError, ValueError) as error:
        sys.exit(f"{error}")
