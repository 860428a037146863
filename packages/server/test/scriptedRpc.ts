/**
 * A scripted `/rpc` for the task command line's tests (`scriptedHttp.ts`): a request's tag and payload as the RPC
 * client sent them, and answers written as the service's RPC serialization writes them (ndjson: a stream's items as a
 * chunk, then the call's exit), with a task record to put in them.
 */
import type { TaskInfo } from "@chainjobs/tasks"
import type { Answer, Seen } from "./scriptedHttp.ts"

/** A running task's record, as the service encodes it. */
export const running: TaskInfo.TaskInfo = {
  id: "t-1", kind: "noop", status: "running", reason: null, priority: 0, key: null, owner: null, attempt: 1, progress: 35,
  message: "block 7 of 20", detail: null, payload: {}, result: null, error: null, errorMessage: null, checkpoint: null,
  createdAt: 0, startedAt: 1, finishedAt: null, heartbeatAt: null, expiresAt: null
}

/** The RPC request a scripted request carried: its id, tag and payload. */
export const rpcRequest = (seen: Seen): { readonly id: string; readonly tag: string; readonly payload: any } =>
  JSON.parse(seen.body.split("\n")[0]!)

/** The answer to the RPC request in `seen`: `chunks` as one stream chunk when there are any, then its success with `value`. */
export const rpcReply = (seen: Seen, reply: { readonly chunks?: ReadonlyArray<unknown>; readonly value: unknown }): Answer => {
  const requestId = rpcRequest(seen).id
  const chunks = reply.chunks ?? []
  return {
    status: 200,
    ndjson: [
      ...(chunks.length === 0 ? [] : [{ _tag: "Chunk", requestId, values: chunks }]),
      { _tag: "Exit", requestId, exit: { _tag: "Success", value: reply.value } }
    ]
  }
}
