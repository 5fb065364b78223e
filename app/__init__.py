"""torchdash's server and worker process.

Here: the entry points (`__main__`: the `torchdash` command; `main`: the app factory) and what
everything uses (`settings`, `errors`). The rest lives in one package per concept: `web/` (routes,
pages, SSE), `runs/` (the run's life: state machine, dispatcher, executors), `worker/` (the
worker process), `storage/` (database, migrations, metric rows), `exports/` (bundle, evaluation).
Nothing in the server process imports torch; only `app.worker` (a separate process) does.
"""
