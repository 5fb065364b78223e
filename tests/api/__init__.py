"""API tests: the app through FastAPI's TestClient on a fresh SQLite file per test, the worker run
synchronously in the test (a few start a short-lived process: a server refusing a bad setting,
concurrent row writers)."""
