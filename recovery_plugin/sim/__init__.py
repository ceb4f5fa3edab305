"""Simulated election-poll service: the built-in target of recovery-bundle."""
