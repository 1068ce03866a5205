"""Hypothesis strategies for the suite, importable on their own (they arrive with the suite)."""
