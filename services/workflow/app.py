"""The workflow service process: `python -m services.workflow`."""

from __future__ import annotations

import os

from services.workflow.bootstrap import build
from shared.platform import observability
from shared.platform.runtime import serve
from shared.platform.settings import Settings


def main() -> None:
    observability.configure("workflow")  # before the broker is built: its middlewares
    serve(build(Settings()).app, int(os.environ.get("PORT", "8103")))


if __name__ == "__main__":
    main()
