/**
 * V8's CPU profiler in this process, for the cluster bench's profiles (`CLUSTER_BENCH_PROFILE`): a runner's bursts
 * (`runner.ts`) and the single-process supervisor's beside them (`bench/cluster.ts`), sampled alike.
 */
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { Effect } from "effect"

/**
 * Starts the profiler, sampling every 100 µs (V8's default is 1 ms: a burst of a few thousand tasks then gives too few
 * samples per module); the returned effect stops it and writes the profile (a `.cpuprofile` file, for Chrome's
 * DevTools) to the path given.
 */
export const startProfile = Effect.promise(async () => {
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.setSamplingInterval", { interval: 100 })
  await session.post("Profiler.start")
  return (path: string) =>
    Effect.promise(async () => {
      const { profile } = await session.post("Profiler.stop")
      writeFileSync(path, JSON.stringify(profile))
      session.disconnect()
    })
})
