"""The runbook report: its model, the atomic writer, the checklist, the evidence diff."""
