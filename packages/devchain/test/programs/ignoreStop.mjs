// Loaded into a dev chain's node by a test (through NODE_OPTIONS): the node then ignores SIGTERM and the end of
// its stdin (the exit its start-up script asks for on that end does nothing), so that only SIGKILL stops it.
process.on("SIGTERM", () => {})
process.exit = () => undefined
// Still never outlive the test's process (a failed test may not stop it): once orphaned, stop for good.
const parent = process.ppid
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, "SIGKILL")
}, 500).unref()
