"""The run's life, from a submitted config to a worker that trains it.

The state machine every status change goes through and the operations built on it (create,
cancel, resume, delete); checks of a config beyond its schema, on submit and again in the
worker; sweeps; the queue's order; the devices runs can be dispatched to, and placing runs on
GPUs or a CPU slot, here or on a cluster; the dispatcher that claims queued runs and hands them
to an executor (`executors/`); preflight checks; and checkpoint retention. Imports storage,
never the web side.
"""
