"""Hardware: what this machine has to train on, read without torch.

`nvml.py` reads the GPUs through NVML (the `nvidia-ml-py` package, imported lazily), so the
server learns the GPUs without importing torch or touching CUDA. Imports nothing of the other
packages (settings and errors only).
"""
