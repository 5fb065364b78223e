"""A run's saved state: the checkpoint folders on disk (written atomically, read back with
weights_only=True, listed and swept), the background writer that saves them while the next epoch
trains, and the training state that goes into a checkpoint and is restored from one.

The folder layout module imports torch only inside its functions: the web server reads it.
"""
