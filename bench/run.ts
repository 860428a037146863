/**
 * `npm run bench`: runs every benchmark in this folder, each in a process of
 * its own (so heap figures do not mix), and prints their reports in turn.
 * `npm run bench -- tasks rpc` runs only the named ones; arguments starting
 * with `--` are passed to each (e.g. `npm run bench -- load --full`).
 */
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith("--"))
const flags = process.argv.slice(2).filter((arg) => arg.startsWith("--"))
const benches = readdirSync(here)
  .filter((file) => file.endsWith(".ts") && file !== "run.ts" && !file.startsWith("_"))
  .map((file) => basename(file, ".ts"))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort()

let failed = 0
for (const name of benches) {
  console.log(`\n=== bench/${name}.ts`)
  const result = spawnSync(process.execPath, ["--expose-gc", join(here, `${name}.ts`), ...flags], { stdio: "inherit" })
  if (result.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
