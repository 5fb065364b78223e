"""Storage: the database the server and the workers share.

The engines and sessions (SQLite's settings in one connect hook, PostgreSQL's pool), the ORM
tables, the schema's migrations and bringing a database up to them at start-up, the narrow metric
and system sample rows, step-loss rollups and downsampling for charts, checkpoint and upload
records, PostgreSQL's wake-up notifications, and copying a database into PostgreSQL. Imports
nothing of the other packages (settings and errors only).
"""
