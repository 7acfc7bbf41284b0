"""The local provider's own behaviour beyond the shared contract (tests/contract/): Maildir
file names, flags and the folder layouts each sync tool writes, and the vdir calendar's
time zones and broken files. The counterpart of tests/google/ and tests/outlook/; the
local account behind a real IMAP server is in integration/test_imap_sync.py."""
