/**
 * A feed's change keeps its server-sent event as text, never as bytes: the
 * replay ring holds thousands of changes for longer than a young-generation
 * collection, and bytes kept on them live outside V8's heap, in the C heap,
 * until a full collection — under issue 17's load tens of MB of them piled
 * up between two, and the C heap kept their high-water mark.
 */
import { assert, describe, it } from "@effect/vitest"
import { runInNewContext } from "node:vm"
import { setFlagsFromString } from "node:v8"
import * as TaskFeed from "../src/TaskFeed.ts"
import type * as TaskInfo from "../src/TaskInfo.ts"

/**
 * Two full garbage collections now (V8's `gc`, exposed to this process for the purpose): V8 frees dead buffers' memory
 * in the background after a collection, and finishes that before it starts the next one.
 */
const collect = () => {
  setFlagsFromString("--expose-gc")
  const gc = runInNewContext("gc") as () => void
  gc()
  gc()
}

/** A finished record of about the size the load mix's tasks have. */
const record = (n: number): TaskInfo.TaskInfo => ({
  id: `0190c7d2-0000-7000-8000-${String(n).padStart(12, "0")}`,
  kind: "demo-scan",
  status: "completed",
  reason: null,
  priority: 0,
  key: null,
  owner: null,
  attempt: 1,
  progress: 100,
  message: "scanned 1000 blocks",
  detail: { block: 1000 + n },
  payload: { fromBlock: n, toBlock: n + 1000, delayMillis: 1000, note: "x".repeat(200) },
  result: { blocks: 1000, matches: n % 7 },
  error: null,
  errorMessage: null,
  checkpoint: null,
  createdAt: 1_700_000_000_000 + n,
  startedAt: 1_700_000_000_100 + n,
  finishedAt: 1_700_000_001_100 + n,
  heartbeatAt: 1_700_000_001_100 + n,
  expiresAt: 1_700_086_401_100 + n
})

describe("TaskFeed.Change's frame", () => {
  it("keeps its text and no bytes: changes read by writers and still held leave no memory outside V8's heap", () => {
    const count = 4_000
    collect()
    const before = process.memoryUsage().arrayBuffers
    const held: Array<TaskFeed.Change> = []
    let bytes = 0
    for (let n = 0; n < count; n++) {
      const change = new TaskFeed.Change(n + 1, `feed-${n + 1}`, record(n))
      // As the streams read it: its bytes written (here, counted), its text too.
      bytes += change.sse.byteLength
      assert.isTrue(change.sseText.startsWith(`id: feed-${n + 1}\nevent: message\ndata: {`))
      held.push(change)
    }
    collect()
    const kept = process.memoryUsage().arrayBuffers - before
    assert.isAbove(bytes, count * 400)
    // Bytes kept on each change would hold all of them (~2 MB); a little slack for the runtime's own buffers.
    assert.isBelow(kept, bytes / 10, `${kept} bytes outside V8's heap kept by ${held.length} changes of ${bytes} bytes' frames`)
  })

  it("encodes the text it keeps: the bytes are the text in UTF-8, a deletion's event named so", () => {
    const change = new TaskFeed.Change(7, "feed-7", { ...record(1), message: "déjà vu ✓" }, true)
    assert.strictEqual(new TextDecoder().decode(change.sse), change.sseText)
    assert.isTrue(change.sseText.startsWith("id: feed-7\nevent: deleted\ndata: {"))
    assert.isTrue(change.sseText.endsWith("}\n\n"))
  })
})
