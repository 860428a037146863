/**
 * The client's error types name `TooManyStreams` exactly where the server can
 * answer it: the streaming calls (`watchAll`, `watchChanges`, a handle's
 * `events`), never a plain call (`get`, `list`, `interrupt`, `stats`, a
 * handle's `info` or `await`). Checked by the type checker (`npm run check`
 * reads the tests): each `Is` below fails to compile when the types change.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Effect, Stream } from "effect"
import type { RemoteTaskHandle } from "../src/RemoteTaskHandle.ts"
import type { TooManyStreams } from "../src/TaskRpcError.ts"
import type { TaskRpcClient } from "../src/TaskRpcClient.ts"

type Client = TaskRpcClient["Service"]
type Handle = RemoteTaskHandle<number, never>

/** Whether an effect's or a stream's errors include `TooManyStreams`. */
type MeetsLimit<T> = T extends Effect.Effect<any, infer E, any> ? ([Extract<E, TooManyStreams>] extends [never] ? false : true)
  : T extends Stream.Stream<any, infer E, any> ? ([Extract<E, TooManyStreams>] extends [never] ? false : true)
  : never

/** Compiles only when `A` is exactly `B`. */
const Is = <A extends B, B extends boolean>(_: [B] extends [A] ? true : false): void => {}

describe("the client's error types", () => {
  it("name TooManyStreams on the streaming calls only", () => {
    Is<MeetsLimit<Client["watchAll"]>, true>(true)
    Is<MeetsLimit<ReturnType<Client["watchChanges"]>>, true>(true)
    Is<MeetsLimit<Handle["events"]>, true>(true)
    Is<MeetsLimit<ReturnType<Client["get"]>>, false>(true)
    Is<MeetsLimit<ReturnType<Client["list"]>>, false>(true)
    Is<MeetsLimit<ReturnType<Client["interrupt"]>>, false>(true)
    Is<MeetsLimit<ReturnType<Client["delete"]>>, false>(true)
    Is<MeetsLimit<Client["stats"]>, false>(true)
    Is<MeetsLimit<Handle["info"]>, false>(true)
    Is<MeetsLimit<Handle["await"]>, false>(true)
    Is<MeetsLimit<Handle["interrupt"]>, false>(true)
    assert.ok(true)
  })
})
