"""Training one run on several processes with DDP: this process's place in the group (its rank,
its device, the sums and stop flag the ranks share) and the launcher that starts the other ranks
beside rank 0 and joins them into one process group."""
