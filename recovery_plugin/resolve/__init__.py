"""Resolving a run: from the CLI's request or a plain pytest session's options to one immutable
:class:`~recovery_plugin.resolve.context.RunContext` (settings, runbook, ids, planned steps)."""
