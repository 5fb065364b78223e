"""torchdash's server, its worker process, and the clients that talk to the server.

The server serves the API and the pages and dispatches queued runs; it never trains and never
imports torch. The worker is a separate process per run, and the only part that imports torch.
Each concept is a package of its own (the web side, the run's life, the worker, storage, run
files, hardware, exports, the Python client and the command line on it); at this level live
only the entry points and what every package shares: the settings and the domain's errors.
"""
