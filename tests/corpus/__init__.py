"""Measured on the shared corpus of real mail (../shared/corpus): inbound understanding's
figures per class. Skipped with a visible reason where the corpus is absent, never when
CI=true. Our own samples (tests/samples/) are read by the unit tests instead."""
