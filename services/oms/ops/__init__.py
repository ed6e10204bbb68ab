"""Tools for the people who run OMS, one `python -m oms.ops.<tool>` command each."""
