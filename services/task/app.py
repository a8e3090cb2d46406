"""The task service process: `python -m services.task`."""

from __future__ import annotations

import os

from services.task.bootstrap import build
from shared.platform import observability
from shared.platform.runtime import serve
from shared.platform.settings import Settings


def main() -> None:
    observability.configure("task")  # before the broker is built: its middlewares
    serve(build(Settings()).app, int(os.environ.get("PORT", "8102")))


if __name__ == "__main__":
    main()
