"""``python -m example_app``: serve the example IVR with ``jambonz-webhooks run`` on ``PORT`` (3000)."""

import os
import sys

from jambonz_webhooks.cli import main

if __name__ == "__main__":
    sys.exit(
        main(["run", "example_app.app:app", "--host", os.environ.get("HOST", "0.0.0.0"), "--log-level",
              os.environ.get("LOG_LEVEL", "info").lower()])
    )  # fmt: skip
