"""The run statuses a client waits for: a run in one of them changes no more."""

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "interrupted"})
