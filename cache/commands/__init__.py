"""Command handlers, one module per data type, registered in `table`.

Importing this package imports every handler module so the table is full.
"""

from cache.commands import table  # noqa: F401
from cache.commands import server, introspection  # noqa: E402,F401
from cache.commands import strings, keys  # noqa: E402,F401
from cache.commands import lists, sets, hashes, zsets  # noqa: E402,F401
from cache.commands import transactions, pubsub, memory  # noqa: E402,F401
from cache.commands import diagnostics  # noqa: E402,F401
