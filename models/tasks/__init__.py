"""Tasks: each owns its instruction, its branches (what to ask), its training target and its parser."""
