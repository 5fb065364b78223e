"""The user's plugins (Dataset, model, loss and metric code in the plugins folder): the catalog,
which reads the files' syntax to list them and their typed arguments without importing them
(torch-free: the web server uses it), and the loading side, which imports them in a worker."""
