"""Executing one run: the pipeline, its steps as subprocesses, signals, the lock, verification."""
