"""Order service: orders, their state machine, and the events that start and follow them."""
