"""What leaves torchdash with a run: its bundle (a zip that rebuilds it: the trainer's source, its
plugin files, a `train.py`, checkpoints, config and metrics) and its best epoch's evaluation."""
