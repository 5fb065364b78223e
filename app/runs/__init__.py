"""The run's life, from a submitted config to a worker that trains it.

`state_machine.py` is the one door every status change goes through; `lifecycle.py` the
operations built on it (create, cancel, resume, delete); `config_checks.py` and `data_paths.py`
check a config beyond its schema, on submit and again in the worker; `sweeps.py` expands a grid;
`dispatcher.py` claims queued runs and hands them to an executor (`executors/`: how and where a
worker is started); `retention.py` prunes old checkpoints. Imports storage, never the web side.
"""
