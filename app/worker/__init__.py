"""The worker process: one per run, started as `python -m app.worker RUN_ID` (or `--warm`).

It trains a claimed run to its end and writes its final status on every path; it turns the
trainer's callbacks into database rows, samples the system metrics of its processes, stops
cooperatively on a cancel or a signal, and names why a run failed. A warm worker imports torch
before it is handed a run; under the Ray executor, a worker is a Ray job's entrypoint. It also
answers preflight checks of a run config. The only package that imports torch.
"""
