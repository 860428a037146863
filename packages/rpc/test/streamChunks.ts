/**
 * The watch streams' chunks as the server writes them and a client reads
 * them: the item schema of one of `TaskRpcs`' streams, through a
 * serialization's codec, and the line a serialization writes for a chunk;
 * and a record to send, with text that JSON escapes.
 */
import { Schema } from "effect"
import { RpcSchema, RpcSerialization } from "effect/rpc"
import { TaskRpcs } from "@chainjobs/rpc"
import type { TaskInfo } from "@chainjobs/tasks"

/** The item schema of the group's stream `tag`, as the server's serialization encodes a chunk of it. */
export const chunkCodec = (tag: "Watch" | "WatchAll" | "WatchChanges") => {
  const success = TaskRpcs.TaskRpcs.requests.get(tag)!.successSchema
  if (!RpcSchema.isStreamSchema(success)) throw new Error(`${tag} is not a stream`)
  const item = success.success
  return RpcSerialization.ndjson.codecFor(Schema.NonEmptyArray(item as Schema.Codec<unknown, unknown>))
}

/** A chunk message as `serialization` writes it. */
export const line = (serialization: RpcSerialization.RpcSerialization["Service"], values: ReadonlyArray<unknown>) =>
  serialization.makeUnsafe().encode({ _tag: "Chunk", requestId: "7", values })

/** A running task's record whose message and detail JSON must escape or nest. */
export const record: TaskInfo.TaskInfo = {
  id: "0198a0c0-0000-7000-8000-000000000001",
  kind: "add",
  status: "running",
  reason: null,
  priority: 0,
  key: null,
  owner: "alice",
  attempt: 1,
  progress: 40,
  message: "adding \"quoted\" \u2713",
  detail: { step: [1, 2] },
  payload: { a: 1, b: 2 },
  result: null,
  error: null,
  errorMessage: null,
  checkpoint: null,
  createdAt: 1,
  startedAt: 2,
  finishedAt: null,
  heartbeatAt: 3,
  expiresAt: null,
  runner: "127.0.0.1:1"
}

/** A copy of `info` that counts every read of one of its fields: `counted.reads()` since the last `counted.reset()`. */
export const counted = (info: TaskInfo.TaskInfo) => {
  let reads = 0
  const copy = new Proxy({ ...info }, {
    get: (target, key, receiver) => {
      if (typeof key === "string" && key in target) reads++
      return Reflect.get(target, key, receiver)
    }
  })
  return { info: copy as TaskInfo.TaskInfo, reads: () => reads, reset: () => void (reads = 0) }
}
