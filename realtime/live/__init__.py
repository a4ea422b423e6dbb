"""Live: one run from a RunConfig: start-up, the capture/process/output threads, the controls,
the statistics and the event log. May import every room but web."""
