"""Hardware: what this machine has to train on, read without torch.

The GPUs come from NVML (the `nvidia-ml-py` package, imported lazily), so the server learns
them without importing torch or touching CUDA, restricted to the set torchdash may use. Imports
nothing of the other packages (settings and errors only).
"""
