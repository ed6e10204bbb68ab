"""Stock service: quantities per item; reserves, releases and commits them per order."""
