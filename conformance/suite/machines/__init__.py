"""Hypothesis rule machines, each with a plain Python model of what the target should hold."""
