"""Integration tests against real programs on this machine: PostgreSQL, Redis and RabbitMQ
(tests/services.py; skipped with the reason on a laptop without them, failed when
CI=true), real worker processes, Dovecot with mbsync, and headless Chromium. Exactly once
under crashes and races, poison input, the store's migrations, and the benchmarks run
small so their code cannot rot."""
