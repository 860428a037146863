/**
 * A principal's single-task streams under the service's `maxTaskStreams`,
 * against the service on 127.0.0.1, over SSE (`/api/tasks/{id}/events`, the
 * hot reads' lean path) and RPC `Watch` over a WebSocket (a handle's
 * events) together: the
 * stream past the limit is refused — 429 `TooManyTaskStreams` before any
 * event, RPC's typed `TaskAccessError` — naming only the caller's own count;
 * the open ones flow on; another principal is served; a stream whose client
 * goes, whose task finishes or whose call is stopped gives its slot back,
 * and the principal opens up to the limit again; `/metrics` counts the
 * refusals (`chainjobs_streams_refused_total{limit="task-streams-per-principal"}`).
 */
import { assert, layer } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Option, Redacted, Stream } from "effect"
import { TaskRpcClient } from "@chainjobs/rpc"
import { DemoScan } from "../src/DemoTasks.ts"
import { baseUrl, type EventFeed, openEvents, request, testServer } from "./http.ts"

// Principals no other test file names: the metrics registry is the process's.
const settings = {
  authTokens: { tara: Redacted.make("tara-token"), uwe: Redacted.make("uwe-token") },
  metricsToken: Option.some(Redacted.make("scrape-token")),
  maxTaskStreams: 3
}

/** The refusals of task streams per principal `/metrics` shows (none before the first). */
const refusedOnMetrics = Effect.map(request("GET", "/metrics", { token: "scrape-token" }), (reply) => {
  const line = /^chainjobs_streams_refused_total\{limit="task-streams-per-principal"\} (\d+)$/m.exec(reply.text)
  return line === null ? 0 : Number(line[1])
})

/** Submits a demo task as `token`'s principal, one block per `delayMillis` over `blocks` blocks; its id. */
const submit = (token: string, blocks: number, delayMillis: number) =>
  Effect.map(
    request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 1, toBlock: blocks, delayMillis }, token }),
    (reply) => reply.body.taskId as string
  )

/** How long a stream's first record or answer may take before the test fails, naming what never came. */
const boundMillis = 20_000

/** `promise`, or a failure naming `what` never came within `boundMillis`. */
const within = <A>(what: string, promise: () => Promise<A>) =>
  Effect.promise(promise).pipe(
    Effect.timeoutOrElse({ duration: boundMillis, orElse: () => Effect.die(new Error(`${what} never came within ${boundMillis} ms`)) })
  )

/** A task's event stream opened as `token`'s principal: open once its first record has come, or its refusal. */
const follow = (token: string, id: string) =>
  Effect.flatMap(baseUrl, (base) =>
    within(`the answer to ${token}'s stream of ${id} (or its first record)`, async () => {
      const feed = await openEvents(`${base}/api/tasks/${id}/events`, { headers: { authorization: `Bearer ${token}` } })
      if (feed.status === 200) await feed.until((event) => event?.id === id)
      return feed
    }))

/** A task stream of `token`'s opened again and again until one is admitted (the server sees a client go a little later). */
const followOnceFreed = (token: string, id: string) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const feed = yield* follow(token, id)
      if (feed.status === 200) return feed
      yield* Effect.sleep("20 millis")
    }
    return assert.fail(`no task stream of ${token} was admitted again after one of its streams ended`)
  })

/** The RPC client over a WebSocket as `token`'s principal, for as long as the scope lasts. */
const rpcAs = (token: string) =>
  Effect.flatMap(baseUrl, (base) =>
    Effect.map(
      Layer.build(TaskRpcClient.layerWebsocket({ url: `${base.replace(/^http/, "ws")}/ws`, token })),
      (context) => Context.get(context, TaskRpcClient.TaskRpcClient)
    ))

/** `Watch` of task `id` running in a fiber of the scope, once its first record has come; its refusal, if refused. */
const watching = (client: TaskRpcClient.TaskRpcClient["Service"], id: string) =>
  Effect.gen(function*() {
    const first = yield* Deferred.make<void>()
    const fiber = yield* Effect.forkScoped(Stream.runDrain(Stream.tap(client.handle(DemoScan, id).events, () => Deferred.succeed(first, undefined))))
    // The first record, or the call's refusal (the fiber failing) at once.
    yield* Effect.raceFirst(Deferred.await(first), Fiber.join(fiber)).pipe(
      Effect.timeoutOrElse({ duration: boundMillis, orElse: () => Effect.die(new Error(`the first record of Watch(${id}) never came`)) })
    )
    return fiber
  })

/** The typed failure of a call, as a plain object: its tag and, for a `TaskAccessError`, its reason. */
const failureOf = (exit: Exit.Exit<unknown, unknown>) => {
  const error = Exit.findErrorOption(exit)
  assert.isTrue(Option.isSome(error), `expected a typed failure, got ${String(exit)}`)
  const value = (error as Option.Some<any>).value
  return value._tag === "TaskAccessError" ? JSON.parse(JSON.stringify(value.reason)) : { _tag: value._tag }
}

layer(testServer(settings), { excludeTestServices: true })("task streams with maxTaskStreams 3", (it) => {
  it.effect("SSE and RPC Watch of one principal share the limit: the fourth is refused on either, another principal is served, and ended streams give their slots back", () =>
    Effect.scoped(Effect.gen(function*() {
      const running = yield* submit("tara-token", 600, 100)
      const uwes = yield* submit("uwe-token", 600, 100)
      const refusedBefore = yield* refusedOnMetrics
      const client = yield* rpcAs("tara-token")
      // Two over SSE, one over the WebSocket.
      const first = yield* follow("tara-token", running)
      const second = yield* follow("tara-token", running)
      assert.deepStrictEqual([first.status, second.status], [200, 200])
      const watch = yield* watching(client, running)
      // The fourth, on either transport: refused, naming tara's own count alone.
      const refused = { _tag: "TooManyTaskStreams", principal: "tara", limit: 3, open: 3 }
      const overSse = yield* follow("tara-token", running)
      assert.strictEqual(overSse.status, 429)
      assert.deepStrictEqual(overSse.body, refused)
      const overRpc = yield* Effect.exit(Stream.runDrain(client.handle(DemoScan, running).events))
      assert.deepStrictEqual(failureOf(overRpc), refused)
      assert.strictEqual(yield* refusedOnMetrics, refusedBefore + 2, "both refusals counted")
      // Uwe is served: his count is his own (and nothing of it shows in tara's refusals).
      const uwe = yield* follow("uwe-token", uwes)
      assert.strictEqual(uwe.status, 200)
      const uweClient = yield* rpcAs("uwe-token")
      const uweWatch = yield* watching(uweClient, uwes)
      // The open streams flow on: the task's next record reaches them.
      const seen = Math.max(...[first, second].map((feed) => feed.received.at(-1)?.progress ?? 0))
      const later = (event: any) => event?.id === running && event.progress > seen
      yield* within("a later record on the open streams", () => Promise.all([first.until(later), second.until(later)]))
      // A client gone (SSE), a call stopped (RPC): each gives its slot back, and tara opens up to the limit again.
      first.close()
      const again = yield* followOnceFreed("tara-token", running)
      yield* Fiber.interrupt(watch)
      const rewatch = yield* Effect.gen(function*() {
        for (let attempt = 0; attempt < 1000; attempt++) {
          const exit = yield* Effect.exit(watching(client, running))
          if (Exit.isSuccess(exit)) return exit.value
          yield* Effect.sleep("20 millis")
        }
        return assert.fail("no RPC Watch of tara was admitted again after one was stopped")
      })
      assert.strictEqual((yield* follow("tara-token", running)).status, 429, "three open again: the fourth refused")
      for (const feed of [second, again, uwe]) feed.close()
      yield* Fiber.interrupt(rewatch)
      yield* Fiber.interrupt(uweWatch)
    })), 60_000)

  it.effect("a stream that runs to its task's end gives its slot back: more streams than the limit, one after another, are all served", () =>
    Effect.gen(function*() {
      for (let round = 0; round < 5; round++) {
        const id = yield* submit("tara-token", 2, 10)
        const feed: EventFeed = yield* followOnceFreed("tara-token", id)
        yield* within(`the end of the stream of ${id}`, () => feed.ended)
        assert.strictEqual(feed.received.at(-1)?.status, "completed")
      }
    }), 60_000)
})
