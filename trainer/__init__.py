"""torchdash's trainer: plain PyTorch, no HTTP and no SQL.

`fit(config, callbacks)` trains one run and reports through callbacks. Importing this package
does not import torch (the web server imports `trainer.config`); `trainer.loop` does.
"""
