"""Cluster tests: a throw-away PostgreSQL server, a real Ray cluster on this machine, a real
S3-compatible server (SeaweedFS)."""
