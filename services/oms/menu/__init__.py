"""Menu service: the restaurant's items and prices, the catalogue every other service trusts."""
