"""`make bench`: how close ccelt runs to the API's rate limit, measured (docs/benchmarks.md)."""
