"""``python -m example_app``: serve the example IVR with uvicorn on ``PORT`` (default 3000)."""

import os

import uvicorn

if __name__ == "__main__":
    uvicorn.run(
        "example_app.app:app",
        host=os.environ.get("HOST", "0.0.0.0"),
        port=int(os.environ.get("PORT", "3000")),
        log_level=os.environ.get("LOG_LEVEL", "info"),
    )
