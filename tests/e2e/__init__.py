"""End to end: a person's outreach from contacts to thank-yous, tick after tick on a fixed
clock (a scripted month on the local default, edited and rescheduled drafts, the first
hour of a new user). Each test tells a whole story; the demo command is run in
cli/test_cli_run.py, and the same story on Gmail and Outlook lives next to their
emulators."""
