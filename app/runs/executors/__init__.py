"""Where workers run: what the dispatcher needs of an executor (start a claimed run's worker,
adopt one after a server restart, reap and stop), and the executors themselves: local OS
processes on this machine with warm workers, or Ray jobs on a cluster."""
