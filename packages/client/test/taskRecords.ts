/** The task records the client tests answer with, in the service's shape. */
import type { TaskRecord } from "../src/index.ts"

/** A task's record in the service's shape: task "t1" of kind "k", pending and never started, with `fields` over it. */
export const taskRecord = (fields: Partial<TaskRecord> = {}): TaskRecord => ({
  id: "t1",
  kind: "k",
  status: "pending",
  progress: 0,
  message: null,
  payload: {},
  result: null,
  reason: null,
  error: null,
  errorMessage: null,
  attempt: 1,
  owner: null,
  createdAt: 0,
  startedAt: null,
  finishedAt: null,
  createdAtIso: new Date(0).toISOString(),
  startedAtIso: null,
  finishedAtIso: null,
  ...fields
})
