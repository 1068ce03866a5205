"""The conformance suite: the tests `mem0-conformance run` runs against a target.

- ``test_schema.py``: every operation of both effective documents through schemathesis.
- ``machines/``: hand-written Hypothesis rule machines with a plain model, for the invariants
  no schema can express; ``test_*.py`` beside this file run them and the example-based checks.

Every test talks to the target through the fixtures of ``conftest.py`` only: run-prefixed ids,
a cleanup registry, recorded exchanges. Nothing branches on which target it is.
"""
