"""The `annotator` command line: one module per command group, each a thin shell over a service."""
