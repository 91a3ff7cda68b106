"""transactions commands (being written)."""
