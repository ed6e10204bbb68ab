"""Shared plumbing every OMS service imports: one module per concern, imported qualified."""
