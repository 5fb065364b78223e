"""Where a run trains and how it uses that hardware: the torch device a config's device string
names, and the GPU switches (mixed precision, channels-last memory, torch.compile)."""
