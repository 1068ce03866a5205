"""Plain schemathesis, the yardstick of the mutation run (``mutants run --engine schemathesis``)."""
