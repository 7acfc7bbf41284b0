"""The `outreach` command as a person types it (tests/clitools.Cli, in-process, clock fixed
by $OUTREACH_NOW): what each command prints, writes and exits with, bad input answered
with exit 2 and the file, line or option named, on SQLite and PostgreSQL. One command or a
short sequence per test; whole lifecycles belong in e2e/."""
