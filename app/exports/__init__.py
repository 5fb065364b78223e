"""What leaves torchdash with a run: its bundle (zip with checkpoints, config, metrics and a
standalone `train.py`) and its best epoch's evaluation (confusion matrix, thumbnails)."""
