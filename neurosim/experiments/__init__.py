"""Experiments built on runs: one run end to end (runner), the layered-vs-unlayered study and
design-space exploration (explore)."""
