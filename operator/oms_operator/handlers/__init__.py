"""kopf handlers, one module per concern; importing a module registers its handlers."""
