"""The REST routes, one module per resource, each with its own `router`."""
