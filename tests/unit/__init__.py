"""Unit tests: pure functions and classes, and the trainer called in this process; no server, no
worker process."""
