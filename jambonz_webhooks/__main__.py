"""``python -m jambonz_webhooks``: the ``jambonz-webhooks`` command (see :mod:`jambonz_webhooks.cli`)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
