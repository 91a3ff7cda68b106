"""Value classes of the data types, kept apart from their command handlers."""
