"""`scripts/bench`: OMS's load test, through the public HTTP API only."""
