"""Contract mutants: generated, named changes of the reference server that measure the suite.

- :mod:`~conformance.catalogue.mutants` derives every mutant from the effective documents;
- :mod:`~conformance.server.mutation` plants one in the reference server (``run --mutant ID``);
- :mod:`~conformance.mutants.coverage` knows which tests exercise which operation;
- :mod:`~conformance.mutants.runner` runs each mutant against those tests in one pytest session;
- :mod:`~conformance.mutants.results` scores, merges and renders what the runs found.
"""
