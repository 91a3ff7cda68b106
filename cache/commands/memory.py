"""MEMORY commands (being written)."""
