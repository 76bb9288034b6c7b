"""The cookbook's recipes: one small, complete jambonz app per module (see ``docs/cookbook.md``).

- ``examples.cookbook.dialer``: outbound calls placed through the REST API, answering-machine
  detection, a message left after the beep;
- ``examples.cookbook.conference``: callers join a named conference by PIN, a host starts and
  ends it, the others hear hold music until then;
- ``examples.cookbook.queue``: callers wait in a queue hearing their position, agents take the
  longest waiting one;
- ``examples.cookbook.recording``: SIPREC recording with consent, paused while a card number is
  keyed in;
- ``examples.cookbook.transfer``: a blind transfer (SIP REFER, a dial when it fails) and a
  screened one (the agent accepts the call before it is connected).

Each serves with ``uvicorn examples.cookbook.<module>:app``; ``tests/test_cookbook.py`` plays
their calls.
"""
