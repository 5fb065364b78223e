"""System tests: real worker processes, real servers on loopback, the CLI and the client against
them."""
