/**
 * `TaskPolicy.resolve` fills in each default of an empty policy (no timeout,
 * unlimited concurrency, one task per key, `queue`, priority 0, 24 hours of
 * retention, `fail` on restart) and keeps every value a policy gives,
 * durations in milliseconds.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schedule } from "effect"
import * as TaskPolicy from "../src/TaskPolicy.ts"

describe("TaskPolicy.resolve", () => {
  it("fills in the defaults of an empty policy", () => {
    assert.deepStrictEqual(TaskPolicy.resolve({}), {
      timeoutMillis: undefined,
      heartbeatTimeoutMillis: undefined,
      retry: undefined,
      concurrency: Number.POSITIVE_INFINITY,
      key: undefined,
      keyConcurrency: 1,
      onConflict: "queue",
      priority: 0,
      retentionMillis: 24 * 60 * 60 * 1000,
      onRestart: "fail"
    })
  })

  it("keeps every value a policy gives, durations in milliseconds", () => {
    // the values kept as they are given
    const kept = {
      retry: { schedule: Schedule.recurs(2) },
      concurrency: 5,
      key: (payload: { id: string }) => payload.id,
      keyConcurrency: 6,
      onConflict: "reject" as const,
      priority: 7,
      onRestart: "resume" as const
    }
    assert.deepStrictEqual(
      TaskPolicy.resolve({ ...kept, timeout: "3 seconds", heartbeatTimeout: "4 seconds", retention: "8 seconds" }),
      { ...kept, timeoutMillis: 3_000, heartbeatTimeoutMillis: 4_000, retentionMillis: 8_000 }
    )
  })
})
