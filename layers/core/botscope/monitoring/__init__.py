"""Defense monitoring: monitored URLs, scheduled rescans, change detection, sample reports."""
