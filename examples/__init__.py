"""Runnable example apps for jambonz-webhooks.

- ``examples.fastapi_mount``: a FastAPI application with its own JSON API and a voice app
  mounted under ``/voice`` (``uvicorn examples.fastapi_mount:app``);
- ``examples.speech_bot``: a speech bot that keeps the conversation in the call's state
  (``uvicorn examples.speech_bot:app``).

The guide in ``docs/`` explains what they use; ``tests/test_examples.py`` plays calls to both.
"""
