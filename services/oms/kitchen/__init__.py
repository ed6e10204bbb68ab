"""Kitchen service: simulated kitchen staff who cook paid orders and mark them ready."""
