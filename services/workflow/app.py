"""The workflow service process: `python -m services.workflow`."""

from __future__ import annotations

import os

from services.workflow.bootstrap import build
from shared.runtime import serve
from shared.settings import Settings


def main() -> None:
    serve(build(Settings()).app, int(os.environ.get("PORT", "8103")))


if __name__ == "__main__":
    main()
