"""Command handlers, one module per data type, registered in `table`.

Importing this package imports every handler module so the table is full.
"""

from cache.commands import table  # noqa: F401
