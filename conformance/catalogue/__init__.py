"""The catalogue of contract mutants, generated from the effective documents (:mod:`conformance.catalogue.mutants`,
walking their schemas with :mod:`conformance.catalogue.walk`): what the reference server plants and the
mutation run (:mod:`conformance.mutants`) measures the suite with."""
