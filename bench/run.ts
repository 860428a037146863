/**
 * `npm run bench`: runs every benchmark in this folder, each in a process of
 * its own (so heap figures do not mix), and prints their reports in turn.
 * `npm run bench -- tasks rpc` runs only the named ones; arguments starting
 * with `--` are passed to each, with the value that follows one unless it
 * names a bench (e.g. `npm run bench -- load --full`,
 * `npm run bench -- queues --rounds 3`).
 *
 * `--help` (or `-h`) runs nothing: it prints, for each named bench (every
 * bench when none is named), the comment at the head of its file, which is
 * where each one documents its options. A name that is not a bench stops the
 * run before anything starts, listing the benches there are.
 */
import { spawnSync } from "node:child_process"
import { readFileSync, readdirSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const all = readdirSync(here)
  .filter((file) => file.endsWith(".ts") && file !== "run.ts" && !file.startsWith("_"))
  .map((file) => basename(file, ".ts"))
const args = process.argv.slice(2)
const wanted: Array<string> = []
const flags: Array<string> = []
let help = false
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--help" || args[i] === "-h") {
    help = true
    continue
  }
  if (!args[i].startsWith("--")) {
    wanted.push(args[i])
    continue
  }
  flags.push(args[i])
  // A flag's value (`--rounds 3`, `--pg <url>`) goes with it, unless it names a bench.
  const next = args[i + 1]
  if (next !== undefined && !next.startsWith("--") && !all.includes(next)) flags.push(args[++i])
}
const unknown = wanted.filter((name) => !all.includes(name))
if (unknown.length > 0) {
  console.error(`no such bench: ${unknown.join(", ")}. The benches: ${[...all].sort().join(", ")}`)
  process.exit(2)
}
const benches = all.filter((name) => wanted.length === 0 || wanted.includes(name)).sort()

/** The doc comment a bench's file opens with, without its comment marks. */
const headComment = (name: string): string => {
  const text = readFileSync(join(here, `${name}.ts`), "utf8")
  const head = /^\s*\/\*\*([\s\S]*?)\*\//.exec(text)
  if (head === null) return "(no comment at the head of the file)"
  return head[1].split("\n").map((line) => line.replace(/^\s*\* ?/, "")).join("\n").trim()
}

if (help) {
  console.log("npm run bench -- [<bench>…] [--<option> [<value>]]…   runs the named benches (all when none is named)")
  for (const name of benches) console.log(`\n=== bench/${name}.ts\n${headComment(name)}`)
  process.exit(0)
}

let failed = 0
for (const name of benches) {
  console.log(`\n=== bench/${name}.ts`)
  const result = spawnSync(process.execPath, ["--expose-gc", join(here, `${name}.ts`), ...flags], { stdio: "inherit" })
  if (result.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
