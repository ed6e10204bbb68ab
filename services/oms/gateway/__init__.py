"""Gateway: the public HTTP API (FastAPI), translating requests into gRPC calls to the services."""
