"""torchdash's web side: settings, database, run state machine, dispatcher, worker, routes, pages.

Nothing in the server process imports torch; only `app.worker` (a separate process) does.
"""
