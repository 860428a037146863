/**
 * The kept status bodies on their own (`StatusBodies`): a body is encoded
 * once per record object and served again only for that same object; a
 * read moves its body to the end, so the least recently read is the one
 * pushed out past the capacity; `forget` drops a body. Every encoding is
 * numbered, so a body tells whether it was kept or encoded again.
 */
import { describe, expect, it } from "@effect/vitest"
import type { TaskInfo } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { StatusBodies } from "../src/StatusBodies.ts"

/** A finished task's record with its own id. */
const finished = (): TaskInfo.TaskInfo => record({ status: "completed", progress: 100, finishedAt: 2_000 })

/** An `encode` whose every call makes a new body: the record's id and the call's number. */
const numbered = () => {
  let calls = 0
  return { encode: (info: TaskInfo.TaskInfo) => `${info.id}#${++calls}`, calls: () => calls }
}

describe("StatusBodies", () => {
  it("keeps a record's body: the same record object read again is not encoded again", () => {
    const bodies = new StatusBodies(4)
    const encoder = numbered()
    const a = finished()
    expect(bodies.bodyOf(a, encoder.encode)).toBe(`${a.id}#1`)
    expect(bodies.bodyOf(a, encoder.encode)).toBe(`${a.id}#1`)
    expect(bodies.bodyOf(a, encoder.encode)).toBe(`${a.id}#1`)
    expect(encoder.calls()).toBe(1)
    expect(bodies.size).toBe(1)
  })

  it("serves a kept body only for the record object it was made from: another record of the same task is encoded, then kept", () => {
    const bodies = new StatusBodies(4)
    const encoder = numbered()
    const first = finished()
    // The same task's record as another object (the store's copy, or the record after a restart): equal, not the same.
    const second = { ...first }
    expect(bodies.bodyOf(first, encoder.encode)).toBe(`${first.id}#1`)
    expect(bodies.bodyOf(second, encoder.encode)).toBe(`${first.id}#2`)
    expect(bodies.bodyOf(second, encoder.encode)).toBe(`${first.id}#2`)
    expect(bodies.size).toBe(1)
  })

  it("pushes out the least recently read body: with capacity 2, reading A, B, A, C pushes B out and keeps A", () => {
    const bodies = new StatusBodies(2)
    const encoder = numbered()
    const [a, b, c] = [finished(), finished(), finished()]
    expect(bodies.bodyOf(a, encoder.encode)).toBe(`${a.id}#1`)
    expect(bodies.bodyOf(b, encoder.encode)).toBe(`${b.id}#2`)
    expect(bodies.bodyOf(a, encoder.encode)).toBe(`${a.id}#1`)
    expect(bodies.bodyOf(c, encoder.encode)).toBe(`${c.id}#3`)
    expect(bodies.size).toBe(2)
    // A was read after B: A is kept, B was pushed out and is encoded again.
    expect(bodies.bodyOf(a, encoder.encode)).toBe(`${a.id}#1`)
    expect(bodies.bodyOf(b, encoder.encode)).toBe(`${b.id}#4`)
  })

  it("forgets a task's body: the next read of it encodes again, other bodies stay", () => {
    const bodies = new StatusBodies(4)
    const encoder = numbered()
    const [a, b] = [finished(), finished()]
    bodies.bodyOf(a, encoder.encode)
    bodies.bodyOf(b, encoder.encode)
    bodies.forget(a.id)
    expect(bodies.size).toBe(1)
    // An id with no body: nothing changes.
    bodies.forget(finished().id)
    expect(bodies.size).toBe(1)
    expect(bodies.bodyOf(b, encoder.encode)).toBe(`${b.id}#2`)
    expect(bodies.bodyOf(a, encoder.encode)).toBe(`${a.id}#3`)
  })
})
