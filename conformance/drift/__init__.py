"""Spec drift: what a newer published OpenAPI document changes, for clients and for servers.

- :mod:`conformance.drift.engine` runs Optic, the diff engine, and reads its differences;
- :mod:`conformance.drift.classify` says what each difference means and for whom;
- :mod:`conformance.drift.report` compares the newer document with the vendored, the effective
  document and the supplements (``mem0-conformance specs drift``); :mod:`conformance.drift.locate`
  says where each change is and which overlay actions wrote it; :mod:`conformance.drift.render`
  writes the report as JSON or text;
- :mod:`conformance.drift.explain` tells which failing checks of a run a published change explains
  (``mem0-conformance run --drift FILE``).
"""
