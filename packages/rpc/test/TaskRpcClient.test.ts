/**
 * The client and the server in separate processes: the server runs
 * `server.ts` in a child process; the clients here talk to it over HTTP and
 * WebSocket.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option, Stream } from "effect"
import { TaskRpcClient } from "@chainjobs/rpc"
import { failureOf } from "./assertions.ts"
import { Add, Boom, Fail, Gated, Release, Steps } from "./fixtures.ts"
import { proxy, ServerProcess } from "./ServerProcess.ts"

const connect = (client: Layer.Layer<TaskRpcClient.TaskRpcClient>) =>
  Effect.map(Layer.build(client), Context.get(TaskRpcClient.TaskRpcClient))

const overWebsocket = (token: string, port?: number) =>
  ServerProcess.use((server) =>
    connect(TaskRpcClient.layerWebsocket({ url: `ws://127.0.0.1:${port ?? server.port}/ws`, token })))

const overHttp = (token: string) =>
  ServerProcess.use((server) =>
    connect(TaskRpcClient.layerHttp({ url: `http://127.0.0.1:${server.port}/rpc`, token })))


/** One call sent as raw ndjson over HTTP, as a client in another language would; returns the error it failed with. */
const rawFailure = (tag: string, payload: unknown, headers: ReadonlyArray<[string, string]>) =>
  ServerProcess.use((server) =>
    Effect.promise(async () => {
      const response = await fetch(`http://127.0.0.1:${server.port}/rpc`, {
        method: "POST",
        headers: { "content-type": "application/ndjson" },
        body: `${JSON.stringify({ _tag: "Request", id: "1", tag, payload, headers })}\n`
      })
      const messages = (await response.text()).trim().split("\n").map((line) => JSON.parse(line))
      const exit = messages.find((message) => message._tag === "Exit")?.exit
      assert.strictEqual(exit?._tag, "Failure")
      return exit.cause[0].error as { readonly _tag: string; readonly detail?: string; readonly reason?: any }
    }))

const runningStep = (info: { readonly status: string; readonly progress: number }) =>
  info.status === "running" && info.progress > 0

describe("TaskRpcClient across processes", () => {
  layer(ServerProcess.layer, { excludeTestServices: true, timeout: "30 seconds" })("server in a child process", (it) => {
    it.effect("submits over HTTP and awaits a typed success and a typed failure", () =>
      Effect.gen(function*() {
        const alice = yield* overHttp("alice-token")
        const sum = yield* alice.submit(Add, { a: 20, b: 22 })
        assert.strictEqual(yield* sum.join, 42)
        const steps = yield* alice.submit(Steps, { steps: 2, delayMs: 5 })
        assert.instanceOf((yield* steps.join).at, Date)
        const failing = yield* alice.submit(Fail, { message: "remote boom" })
        const error = failureOf(yield* failing.await)
        assert.instanceOf(error, Boom)
        assert.strictEqual((error as Boom).message, "remote boom")
      }))

    it.effect("watches progress over WebSocket until the task completes", () =>
      Effect.gen(function*() {
        const alice = yield* overWebsocket("alice-token")
        // The watch begins with the task's record as it stands when the watch opens: on a loaded machine the submit's
        // answer and the watch's opening can take longer than a step, so the steps seen are the last ones, in order,
        // each once, down to the last (a step lasts a second: the last one is seen unless opening took three).
        const handle = yield* alice.submit(Steps, { steps: 3, delayMs: 1000 })
        const events = yield* Stream.runCollect(handle.events)
        const seen = events.filter(runningStep).map((e) => e.message)
        assert.deepStrictEqual(seen, ["step 1", "step 2", "step 3"].slice(3 - seen.length))
        assert.isAbove(seen.length, 0)
        assert.strictEqual(events[events.length - 1].status, "completed")
        assert.isTrue(Exit.isSuccess(yield* handle.await))
      }))

    it.effect("interrupts a task remotely and its finalizer runs on the server", () =>
      Effect.gen(function*() {
        const server = yield* ServerProcess
        const alice = yield* overWebsocket("alice-token")
        const handle = yield* alice.submit(Steps, { steps: 1000, delayMs: 10 })
        yield* Stream.runHead(Stream.filter(handle.events, runningStep))
        yield* handle.interrupt
        yield* server.waitForLine(`finished ${handle.id} interrupted`)
        assert.strictEqual(yield* handle.status, "interrupted")
        assert.isTrue(Exit.hasInterrupts(yield* handle.await))
      }))

    it.effect("a client that disconnects mid-watch leaves the task running", () =>
      Effect.gen(function*() {
        const server = yield* ServerProcess
        // The task holds until this test releases it: whatever the machine's load, it is still running after the disconnect.
        const gate = `mid-watch-${Date.now()}`
        const id = yield* Effect.scoped(Effect.gen(function*() {
          const alice = yield* overWebsocket("alice-token")
          const handle = yield* alice.submit(Gated, { gate })
          yield* Stream.runHead(Stream.filter(handle.events, runningStep))
          return handle.id
        }))
        // the first client's socket is closed; another connection finds the task still going
        const again = yield* overHttp("alice-token")
        const handle = again.handle(Gated, id)
        assert.strictEqual(yield* handle.status, "running")
        yield* (yield* again.submit(Release, { gate })).join
        assert.isTrue(Exit.isSuccess(yield* handle.await))
        yield* server.waitForLine(`finished ${id} done`)
      }))

    it.effect("a dropped WebSocket reconnects and the watch resumes where it stood", () =>
      Effect.gen(function*() {
        const server = yield* ServerProcess
        const cut = yield* proxy(server.port)
        const alice = yield* overWebsocket("alice-token", cut.port)
        // Cut at the first step the watch hears (on a loaded machine the watch may open after step 1): steps of a
        // quarter second leave the task running across the cut and the reconnection.
        const handle = yield* alice.submit(Steps, { steps: 5, delayMs: 250 })
        let severed = false
        const events = yield* handle.events.pipe(
          Stream.tap((info) =>
            Effect.sync(() => {
              if (!severed && runningStep(info)) {
                severed = true
                cut.sever()
              }
            })
          ),
          Stream.runCollect
        )
        assert.isAtLeast(cut.connections(), 2, "the client reconnected")
        const steps = events.filter(runningStep).map((e) => e.progress)
        assert.deepStrictEqual(steps, [...steps].sort((a, b) => a - b), "in order")
        assert.strictEqual(new Set(steps).size, steps.length, "nothing delivered twice")
        assert.strictEqual(events[events.length - 1].status, "completed")
      }))

    it.effect("another principal's task is not found, as a missing one", () =>
      Effect.gen(function*() {
        const alice = yield* overWebsocket("alice-token")
        const bob = yield* overHttp("bob-token")
        const handle = yield* alice.submit(Steps, { steps: 1000, delayMs: 10 })
        const foreign = bob.handle(Steps, handle.id)
        assert.strictEqual(failureOf(yield* Effect.exit(foreign.info))._tag, "TaskNotFound")
        assert.strictEqual(failureOf(yield* Effect.exit(foreign.interrupt))._tag, "TaskNotFound")
        assert.strictEqual(yield* handle.status, "running")
        yield* handle.interrupt
      }))

    it.effect("an unauthenticated call is refused", () =>
      Effect.gen(function*() {
        const missing = yield* rawFailure("Submit", { kind: "add", payload: { a: 1, b: 2 } }, [])
        assert.strictEqual(missing._tag, "TaskAccessError")
        assert.deepStrictEqual(missing.reason, { _tag: "Unauthenticated", credential: "missing-token" })
        const stranger = yield* overWebsocket("stolen-token")
        const error = failureOf(yield* Effect.exit(stranger.submit(Add, { a: 1, b: 2 })))
        assert.strictEqual(error._tag, "TaskAccessError")
        assert.deepInclude(error._tag === "TaskAccessError" ? error.reason : {}, { _tag: "Unauthenticated", credential: "unknown-token" })
      }))

    it.effect("a Schema-invalid request gets a MalformedRequest naming the field", () =>
      Effect.gen(function*() {
        const auth: ReadonlyArray<[string, string]> = [["authorization", "Bearer alice-token"]]
        const list = yield* rawFailure("List", { limit: 5000 }, auth)
        assert.strictEqual(list._tag, "MalformedRequest")
        assert.include(list.detail, "limit")
        const submit = yield* rawFailure("Submit", { payload: { a: 1, b: 2 } }, auth)
        assert.strictEqual(submit._tag, "MalformedRequest")
        assert.include(submit.detail, "kind")
        const alice = yield* overHttp("alice-token")
        assert.strictEqual((yield* alice.list({ kind: ["add"], limit: 1000 })).items.every((i) => i.owner === "alice"), true)
      }))

    it.effect("an HTTP body over the server's limit is refused before it is read and records nothing", () =>
      Effect.gen(function*() {
        const server = yield* ServerProcess
        const alice = yield* overHttp("alice-token")
        const before = (yield* alice.list({ limit: 1000 })).items.length
        const status = yield* Effect.promise(async () => {
          const request = { kind: "fail", payload: { message: "x".repeat(2 * 1024 * 1024) } }
          const response = await fetch(`http://127.0.0.1:${server.port}/rpc`, {
            method: "POST",
            body: `${JSON.stringify({ _tag: "Request", id: "1", tag: "Submit", payload: request, headers: [["authorization", "Bearer alice-token"]] })}\n`
          })
          await response.arrayBuffer()
          return response.status
        })
        assert.strictEqual(status, 413)
        assert.strictEqual((yield* alice.list({ limit: 1000 })).items.length, before)
      }))

    it.effect("a watch stopped on the client does not stop the task", () =>
      Effect.gen(function*() {
        const alice = yield* overWebsocket("alice-token")
        const gate = `stopped-watch-${Date.now()}`
        const handle = yield* alice.submit(Gated, { gate })
        // the watch is opened (its first record arrives) and then stopped
        yield* Stream.runHead(handle.events)
        assert.isTrue(Option.isNone(yield* Effect.timeoutOption(handle.await, "1 millis")))
        assert.strictEqual(yield* handle.status, "running")
        yield* (yield* alice.submit(Release, { gate })).join
        assert.isTrue(Exit.isSuccess(yield* handle.await))
      }))
  })
})
