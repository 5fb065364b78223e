"""Storage: the database and the files the server keeps.

`engine.py` makes engines and sessions (SQLite's settings in one connect hook); `models.py` the
ORM tables; `revision.py` brings a database to the newest revision of `migrations/` (a new
migration goes in `migrations/versions/`); `metrics.py` reads and writes epoch and step rows,
`rollups.py` pre-aggregates step rows for charts and `downsample.py` thins a series;
`checkpoint_rows.py` records checkpoints; `uploads.py` stores uploaded files. Imports nothing
of the other packages.
"""
