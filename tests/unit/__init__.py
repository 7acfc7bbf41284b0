"""Unit tests of the pure parts: the lifecycle rules, mail understanding, composing and
templates, time plans, addresses, contact files and settings. No network, no database
server, no subprocess; in-memory connectors at most, and `now` always passed in. A test
here that needs a service or a real program belongs in integration/ instead."""
