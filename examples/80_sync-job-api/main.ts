/**
 * A blockchain sync-job web API, used the way a web backend or a shell script
 * uses it: the chainjobs service runs as its own process (`chainjobs serve`)
 * on a local chain with a seeded ERC-20; a sync of the token's Transfer
 * events is started, polled, read, listed and deleted with plain `curl`, then
 * the same with `@chainjobs/client` (no Effect in sight).
 *
 * `main.ts --serve` keeps everything running and prints the address of a
 * browser page that does the same with the client (Ctrl-C stops it).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { ChainjobsClient } from "@chainjobs/client"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import { type Service, startService, startSite, transferEvent } from "./site.ts"

/** What a sync job returns (`chain/sync-events`). */
interface SyncSummary {
  readonly fromBlock: number
  readonly toBlock: number
  readonly counts: Record<string, number>
  readonly total: number
  readonly processingMillis: number
}

/** Runs `curl` with `args` (the base URL written `$BASE`), printing the command and returning its output. */
const curl = (base: string, ...args: ReadonlyArray<string>): string => {
  const quoted = (arg: string) => /^[\w$/:.-]+$/.test(arg) ? arg : arg.includes("$BASE") ? `"${arg}"` : `'${arg}'`
  console.log(`$ curl ${args.map(quoted).join(" ")}`)
  return execFileSync("curl", ["-s", ...args.map((arg) => arg.replace("$BASE", base))], { encoding: "utf8" })
}

/** Reads a job's status every 200 ms until it has finished (the sync-job document polls every 2 s). */
const pollWithCurl = async (base: string, id: string) => {
  for (;;) {
    const job = JSON.parse(execFileSync("curl", ["-s", `${base}/api/tasks/${id}`], { encoding: "utf8" }))
    if (["completed", "failed", "interrupted"].includes(job.status)) return job
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

const withCurl = async (base: string, token: string, fromBlock: number) => {
  console.log("# 1. start a sync job: the answer comes at once, with where to follow it")
  const body = JSON.stringify({ chain: "dev", address: token, events: [transferEvent], fromBlock })
  const started = JSON.parse(curl(base, "-X", "POST", "$BASE/api/tasks/chain/sync-events", "-H", "content-type: application/json", "-d", body))
  console.log(JSON.stringify(started))
  const id: string = started.taskId
  console.log("# 2. poll its status until it is done")
  console.log(`$ curl $BASE${started.statusUrl}   (every 200 ms)`)
  const job = await pollWithCurl(base, id)
  console.log(`status ${job.status}, progress ${job.progress}%`)
  console.log("# 3. read its result")
  const result = JSON.parse(curl(base, `$BASE${started.resultUrl}`))
  const summary: SyncSummary = result.result
  console.log(`status ${result.status}: ${summary.total} events in blocks ${summary.fromBlock}..${summary.toBlock}, ${JSON.stringify(summary.counts)}`)
  console.log("# 4. list the sync jobs")
  const listed = JSON.parse(curl(base, "$BASE/api/tasks?kind=chain/sync-events&page=1&limit=20"))
  for (const item of listed.items) console.log(`${item.id} ${item.status}`)
  console.log("# 5. delete the job; it is gone")
  console.log(`HTTP ${curl(base, "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", `$BASE/api/tasks/${id}`)}`)
  console.log(curl(base, `$BASE/api/tasks/${id}`))
}

const withClient = async (base: string, token: string) => {
  const client = new ChainjobsClient<{ "chain/sync-events": { payload: unknown; result: SyncSummary } }>({ baseUrl: base })
  const { taskId } = await client.submit("chain/sync-events", { chain: "dev", address: token, events: [transferEvent], lastBlocks: 100 })
  console.log(`client: submitted ${taskId}`)
  // A polling wait, at most 10 minutes (the default), every 200 ms.
  const done = await client.wait<SyncSummary>(taskId, { intervalMillis: 200, timeoutMillis: 600_000 })
  console.log(`client: ${done.status} ${done.progress}%`)
  const result = await client.result<SyncSummary>(taskId)
  if (result.status === "completed") {
    console.log(`client: ${result.result.total} events in the last 100 blocks (${result.result.fromBlock}..${result.result.toBlock})`)
  }
  console.log(`client: ${(await client.list({ kind: "chain/sync-events" })).items.length} sync job listed`)
  await client.delete(taskId)
  await client.status(taskId).catch((error) => console.log(`client: deleted; status answers ${error.status} ${error.tag}`))
}

const walkthrough = async (chainUrl: string, token: string, fromBlock: number) => {
  const service: Service = await startService(chainUrl)
  try {
    console.log("service: chainjobs serve is listening at $BASE")
    await withCurl(service.baseUrl, token, fromBlock)
    await withClient(service.baseUrl, token)
  } finally {
    const code = await service.stop()
    console.log(`service: stopped by SIGTERM, exit code ${code}`)
  }
}

/** Keeps the service and the page running until Ctrl-C. */
const serve = async (chainUrl: string, token: string) => {
  const service = await startService(chainUrl)
  const site = await startSite(service, { chain: "dev", address: token })
  console.log(`open ${site.url} (the service is at ${service.baseUrl}); Ctrl-C stops`)
  await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()))
  await site.close()
  await service.stop()
}

const program = Effect.gen(function*() {
  const chain = yield* DevChain.DevChain
  const seeded = yield* DevSeed.seed()
  yield* Effect.promise(() =>
    process.argv.includes("--serve") ? serve(chain.url, seeded.token) : walkthrough(chain.url, seeded.token, seeded.fromBlock)
  )
}).pipe(Effect.provide(DevChain.layer()))

NodeRuntime.runMain(program)
