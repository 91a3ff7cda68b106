"""zsets commands (being written)."""
