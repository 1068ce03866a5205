"""The SDK guard: the real mem0ai and klavis SDKs driven against the target, their traffic checked.

``traffic`` records what an SDK sends and gets and holds it to the effective documents;
``scenarios`` holds what each SDK call is expected to do, per SDK (version differences are
data there, not branches in tests). The suite's ``test_sdk.py`` runs the scenarios
(``mem0-conformance run --sdk`` or ``--sdk-only``).
"""
