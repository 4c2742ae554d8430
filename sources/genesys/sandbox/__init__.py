"""A fake Genesys Workspace site (GWS API v2) for tests, the demo and benchmarks."""
