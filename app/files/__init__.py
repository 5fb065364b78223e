"""Where a run's files live: checkpoints, evaluation files and uploads, in a folder (the default
`<home>/runs`, or one every node mounts) or an S3-compatible bucket, through fsspec.

Callers hand over ids and stored locations, never build paths: `RunFiles` (run_files.py) writes
atomically, checks that a stored location lies inside the store before it reads or deletes, and
fetches a checkpoint to a node-local folder for `torch.load`. Worker logs stay in `<home>/runs`.
"""

from app.files.run_files import RunFiles, StorageUnavailable

__all__ = ["RunFiles", "StorageUnavailable"]
