/**
 * `npm run bench`: runs every benchmark in this folder, each in a process of
 * its own (so heap figures do not mix), and prints their reports in turn.
 * `npm run bench -- tasks rpc` runs only the named ones; arguments starting
 * with `--` are passed to each, with the value that follows one unless it
 * names a bench (e.g. `npm run bench -- load --full`,
 * `npm run bench -- queues --rounds 3`).
 */
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const all = readdirSync(here)
  .filter((file) => file.endsWith(".ts") && file !== "run.ts" && !file.startsWith("_"))
  .map((file) => basename(file, ".ts"))
const args = process.argv.slice(2)
const wanted: Array<string> = []
const flags: Array<string> = []
for (let i = 0; i < args.length; i++) {
  if (!args[i].startsWith("--")) {
    wanted.push(args[i])
    continue
  }
  flags.push(args[i])
  // A flag's value (`--rounds 3`, `--pg <url>`) goes with it, unless it names a bench.
  const next = args[i + 1]
  if (next !== undefined && !next.startsWith("--") && !all.includes(next)) flags.push(args[++i])
}
const benches = all.filter((name) => wanted.length === 0 || wanted.includes(name)).sort()

let failed = 0
for (const name of benches) {
  console.log(`\n=== bench/${name}.ts`)
  const result = spawnSync(process.execPath, ["--expose-gc", join(here, `${name}.ts`), ...flags], { stdio: "inherit" })
  if (result.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
