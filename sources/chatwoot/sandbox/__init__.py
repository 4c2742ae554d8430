"""A faithful fake Chatwoot account for tests, demos and benchmarks."""
