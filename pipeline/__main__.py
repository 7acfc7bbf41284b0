"""`python -m pipeline` runs the `outreach` command (for cron lines without it on PATH)."""

from pipeline.cli import main

main()
