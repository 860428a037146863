// Loaded into a dev chain's node by a test (through NODE_OPTIONS): the node writes to stderr, then exits with
// code 3 before Hardhat starts. Unless CHAINJOBS_TEST_QUIET is set, it first writes more than a
// DevChainError keeps (its last 4096 characters).
if (process.env.CHAINJOBS_TEST_QUIET === undefined) process.stderr.write("early noise ".repeat(1000) + "\n")
process.stderr.write("the last words of the node\n")
process.exit(3)
