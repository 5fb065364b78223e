"""Where workers run. `interface.py` is what the dispatcher needs of an executor; `local.py`
starts one OS process per run on this machine, with warm workers from `warm_pool.py`;
`worker_process.py` is the worker's command line, written at start and read back on adoption."""
