"""The torchdash test suite, by kind: unit/, api/, system/, browser/, cluster/; support/ holds
what they share."""
