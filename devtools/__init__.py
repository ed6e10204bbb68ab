"""Developer tooling: the real servers, the services as processes, the Kubernetes control
plane, `scripts/dev` and signed Stripe webhooks. Used by the tests, `scripts/dev` and the
benchmark; not part of the wheel. Import each module by its own name."""
