"""torchdash's trainer: plain PyTorch, no HTTP and no SQL.

`fit(config, callbacks)` (trainer/loop.py) trains one run and reports through callbacks; what it
trains with is built from the config in one place (trainer/setup.py), out of the parts that the
packages here hold: the config schema, data, models, optimization, devices, distributed ranks and
checkpoints. Importing this package does not import torch (the web server imports
`trainer.config`); `trainer.loop` does.
"""
