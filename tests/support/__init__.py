"""What the tests share: helpers, factories, and the throw-away servers (PostgreSQL, S3, Ray)
that tests and bench/ start. Imported as `tests.support.<module>`."""
