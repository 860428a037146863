// Loaded into a dev chain's node by a test (through NODE_OPTIONS): the node writes more to stderr than a
// DevChainError keeps (its last 4096 characters), then exits with code 3 before Hardhat starts.
process.stderr.write("early noise ".repeat(1000) + "\n")
process.stderr.write("the last words of the node\n")
process.exit(3)
