"""Local, protocol-faithful emulators of the providers, for tests and benchmarks."""
