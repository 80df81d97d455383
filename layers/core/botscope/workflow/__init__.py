"""The scan workflow's stage logic (Prepare, Probe, Analyze, Finalize, MarkFailed) and its starter."""
