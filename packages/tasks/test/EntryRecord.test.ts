/**
 * `Entry` (internal/entry.ts), the record a supervisor holds of a live task, as plain calls: a task inserted running
 * reads pending (no start, no heartbeat) until its handler starts, and its heartbeat then counts from the start,
 * never back; a settled record is shown only once committed, carrying a heartbeat newer than the last record (and
 * no copy made without one); only a terminal committed record is final; the first request to stop wins; and
 * `asRunning` / `resumed` make the records an attempt and a recovery write.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Schema } from "effect"
import * as Task from "../src/Task.ts"
import type { TaskInfo } from "../src/TaskInfo.ts"
import { forKind } from "../src/internal/codec.ts"
import { asRunning, Entry, type Registered, resumed } from "../src/internal/entry.ts"
import { HandOff, Interrupt } from "../src/internal/stop.ts"
import { record } from "./TaskStoreConformance.ts"

const Noop = Task.define("entry-noop", { payload: Schema.Struct({}), success: Schema.Void })

const registered: Registered = {
  kind: Noop,
  handler: () => Effect.void,
  codec: forKind(Noop),
  context: Context.empty()
}

/** A pending record of `Noop`, created at 1,000. */
const pending = (): TaskInfo => record({ kind: Noop.name, createdAt: 1_000 })

/** An entry of a task inserted running at its submission at 1,000 (what `Tasks.submit` makes when a worker is free). */
const insertedRunning = () => {
  const running = asRunning(pending(), 1_000, false)
  return { entry: new Entry(running, registered, {}, undefined, true), running }
}

const completed = { status: "completed", reason: null, result: null, error: null, errorMessage: null } as const
const storedBack = { status: "pending", reason: null, result: null, error: null, errorMessage: null } as const

describe("Entry", () => {
  it("a task inserted running reads pending, unstarted and silent, until its handler starts", () => {
    const { entry, running } = insertedRunning()
    assert.strictEqual(running.heartbeatAt, 1_000)
    assert.isTrue(entry.insertedRunning)
    assert.deepInclude(entry.info, { status: "pending", startedAt: null, heartbeatAt: null })
    assert.isNull(entry.heartbeatAt, "no heartbeat before it starts: nothing for the watchdog to count")
    assert.strictEqual(entry.written, running, "written as inserted: running")
    // a heartbeat before the start (none comes: the handler is what beats) is no sign of the attempt's life
    entry.markAlive(1_200)
    assert.isNull(entry.heartbeatAt)
    // started in the same millisecond as its insert: the stored record stands as it is, no copy made
    entry.startInserted(1_000)
    assert.isFalse(entry.insertedRunning)
    assert.strictEqual(entry.info, running, "the running record itself")
    assert.strictEqual(entry.heartbeatAt, 1_000)
  })

  it("a task inserted running counts its heartbeat from its start, never back to an earlier clock reading", () => {
    const later = insertedRunning().entry
    later.startInserted(1_500)
    assert.strictEqual(later.heartbeatAt, 1_500)
    assert.strictEqual(later.info.heartbeatAt, 1_500)
    const earlier = insertedRunning().entry
    earlier.startInserted(500)
    assert.strictEqual(earlier.heartbeatAt, 1_000)
    assert.strictEqual(earlier.info.heartbeatAt, 1_000)
  })

  it("a settled record is shown once committed; until then the record before, as it stands", () => {
    const entry = new Entry(pending(), registered, {})
    const running = entry.markRunning(2_000, false)
    const settled = entry.settle(completed, 3_000)
    assert.strictEqual(entry.info, running, "readers keep the record before, itself (no heartbeat since: no copy)")
    assert.strictEqual(entry.written, settled)
    assert.deepInclude(settled, { status: "completed", finishedAt: 3_000, heartbeatAt: 2_000 })
    entry.committed()
    assert.strictEqual(entry.info, settled)
    assert.strictEqual(entry.final?.info, settled, "a terminal record committed is final")
  })

  it("a heartbeat newer than the last record shows in the record readers see while the settled one is written", () => {
    const entry = new Entry(pending(), registered, {})
    entry.markRunning(2_000, false)
    entry.markAlive(2_500)
    assert.strictEqual(entry.heartbeatAt, 2_500)
    const settled = entry.settle(completed, 3_000)
    assert.deepInclude(entry.info, { status: "running", heartbeatAt: 2_500 })
    assert.strictEqual(settled.heartbeatAt, 2_500)
  })

  it("a record stored back pending and committed is no final record", () => {
    const entry = new Entry(pending(), registered, {})
    entry.markRunning(2_000, false)
    const back = entry.settle(storedBack, 3_000)
    assert.deepInclude(back, { status: "pending", attempt: 2, finishedAt: null, expiresAt: null })
    entry.committed()
    assert.strictEqual(entry.info, back)
    assert.isUndefined(entry.final, "no handle may answer a pending record as the task's outcome")
  })

  it("the first request to stop wins; a later one says so", () => {
    const entry = new Entry(pending(), registered, {})
    assert.isTrue(entry.stop(Interrupt))
    assert.isFalse(entry.stop(HandOff))
    assert.strictEqual(entry.stoppedBy, Interrupt)
  })
})

describe("asRunning and resumed", () => {
  it("an attempt keeps the first start; a first attempt starts now", () => {
    assert.deepInclude(asRunning(pending(), 5_000, false), { status: "running", attempt: 1, startedAt: 5_000, heartbeatAt: 5_000 })
    const retried = asRunning({ ...pending(), status: "pending", attempt: 2, startedAt: 2_000 }, 5_000, true)
    assert.deepInclude(retried, { status: "running", attempt: 3, startedAt: 2_000, heartbeatAt: 5_000 })
  })

  it("a running record taken back waits as its next attempt; a pending one as it is", () => {
    const running = asRunning(pending(), 2_000, false)
    assert.deepInclude(resumed(running), { status: "pending", attempt: 2 })
    const waiting = pending()
    assert.strictEqual(resumed(waiting), waiting)
  })
})
