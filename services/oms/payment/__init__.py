"""Payment service: Stripe Checkout sessions for orders, and Stripe's webhooks."""
