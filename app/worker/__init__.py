"""The worker process: one per run, started as `python -m app.worker RUN_ID` (or `--warm`).

`__main__.py` reads the command line; `warm.py` is a warm worker that imports torch before it
is handed a run; `execute.py` trains a claimed run to its end and writes its final status;
`reporter.py` turns the trainer's callbacks into database rows; `stop_signal.py` is the loop's
cooperative stop; `failures.py` names why a run failed. The only package that imports torch.
"""
