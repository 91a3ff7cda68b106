"""pubsub commands (being written)."""
