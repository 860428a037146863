/**
 * The event streams under a slow or returning reader, against the service on
 * 127.0.0.1: a task's stream keeps only the latest records, `/api/events`
 * drops a reader that falls behind with a reason and resumes by
 * `Last-Event-ID` (`/metrics` counts each drop once), and `WatchAll` over
 * WebSocket drops a slow client too.
 */
import { NodeSocket } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Option, Schema, Stream } from "effect"
import { RpcClient, RpcSerialization } from "effect/rpc"
import { Auth, TaskRpcClient, TaskRpcs } from "@chainjobs/rpc"
import { TasksConfig } from "@chainjobs/tasks"
import { get as httpGet, type IncomingMessage } from "node:http"
import { baseUrl, openEvents, request, testServer } from "./http.ts"

/** One parsed server-sent event. */
interface SseEvent {
  readonly id: string | undefined
  readonly event: string
  readonly data: any
}

const parseEvents = (text: string): Array<SseEvent> =>
  text.split("\n\n").flatMap((block) => {
    let id: string | undefined
    let event = "message"
    const data: Array<string> = []
    for (const line of block.split("\n")) {
      if (line.startsWith("id:")) id = line.slice(3).trim()
      else if (line.startsWith("event:")) event = line.slice(6).trim()
      else if (line.startsWith("data:")) data.push(line.slice(5).trim())
    }
    return data.length === 0 ? [] : [{ id, event, data: JSON.parse(data.join("\n")) }]
  })

/** An event stream opened with its reading paused: nothing is read until `readToEnd` (or `readUntil`). */
interface PausedStream {
  /** Reads everything until the server ends the stream. */
  readonly readToEnd: () => Promise<Array<SseEvent>>
  /** Reads until an event satisfies `predicate`, then closes the connection; returns every event read. */
  readonly readUntil: (predicate: (event: SseEvent) => boolean) => Promise<Array<SseEvent>>
}

const openPaused = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(() =>
    new Promise<PausedStream>((resolve, reject) => {
      const req = httpGet(url, { headers }, (response: IncomingMessage) => {
        response.pause()
        response.setEncoding("utf8")
        const read = (predicate: (event: SseEvent) => boolean) =>
          new Promise<Array<SseEvent>>((done) => {
            const events: Array<SseEvent> = []
            let buffer = ""
            const finish = () => done(events)
            response.on("data", (chunk: string) => {
              buffer += chunk
              const end = buffer.lastIndexOf("\n\n")
              if (end < 0) return
              const complete = parseEvents(buffer.slice(0, end))
              buffer = buffer.slice(end + 2)
              events.push(...complete)
              if (complete.some(predicate)) {
                response.destroy()
                finish()
              }
            })
            response.on("end", finish)
            response.on("close", finish)
            response.resume()
          })
        resolve({ readToEnd: () => read(() => false), readUntil: read })
      })
      req.on("error", reject)
    })
  )

const scan = (blocks: number) => ({ fromBlock: 1, toBlock: blocks, delayMillis: 0 })

/**
 * Tasks in a flood, and blocks each: enough changes to fill every socket
 * buffer between a paused reader and the server many times over (6,300
 * changes, about 3 MB; a paused reader here is dropped after some 35 changes,
 * 17 KB), and no more: the flood's time grows with the machine's load, and
 * 30,900 changes took the `/api/events` test past 30 s at load 21.
 */
const floodTasks = 100
const floodBlocks = 60

/** Runs a flood of tasks at once and waits for them all; returns their ids. */
const flood = Effect.flatMap(baseUrl, (base) =>
  Effect.promise(() =>
    Promise.all(Array.from({ length: floodTasks }, async () => {
      const response = await fetch(`${base}/api/tasks/demo-scan?wait=true`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(scan(floodBlocks))
      })
      const record = await response.json() as { readonly id: string }
      return record.id
    }))
  ))

/** A raw RPC client over WebSocket to the server under test: it retries nothing, so a test sees every failure. */
const rawRpc = Effect.gen(function*() {
  const base = yield* baseUrl
  // Built in the test's scope: the connection lives until the test ends.
  const connection = yield* Layer.build(Layer.mergeAll(
    Auth.layerClient("none"),
    RpcClient.layerProtocolSocket().pipe(
      Layer.provide(NodeSocket.layerWebSocket(`${base.replace(/^http/, "ws")}/ws`)),
      Layer.provide(RpcSerialization.layerNdjson)
    )
  ))
  return yield* Effect.provideContext(RpcClient.make(TaskRpcs.TaskRpcs), connection)
})

/** Resolves when a task's event stream (read as it comes, over REST) has ended: the task has finished. */
const finished = (id: string) =>
  Effect.flatMap(baseUrl, (base) => Effect.promise(() => openEvents(`${base}/api/tasks/${id}/events`).then((feed) => feed.ended)))

layer(
  testServer({ eventBuffer: 8, eventReplay: 100_000, tasks: { ...TasksConfig.defaults, maxWorkers: floodTasks } }),
  { excludeTestServices: true }
)(
  "event streams under load",
  (it) => {
  it.effect("a task's stream whose reader stalls skips to the latest records and ends at the terminal one", () =>
    Effect.gen(function*() {
      const rpc = yield* rawRpc
      const { body } = yield* request("POST", "/api/tasks/demo-scan", { body: scan(400) })
      const records = yield* rpc.Watch({ id: body.taskId }).pipe(
        // The first record stalls the reader until the task has finished.
        Stream.mapEffect((info, index) => index === 0 ? Effect.as(finished(body.taskId), info) : Effect.succeed(info)),
        Stream.runCollect
      )
      assert.strictEqual(records[records.length - 1].status, "completed")
      assert.isBelow(records.length, 100, "a stalled reader is not sent every change")
      const progress = records.map((info) => info.progress)
      assert.deepStrictEqual(progress, [...progress].sort((a, b) => a - b), "records arrive in order")
    }), 20_000)

  it.effect("a reader of /api/events that falls behind is dropped with a reason, and resuming by Last-Event-ID misses nothing", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const paused = yield* openPaused(`${base}/api/events`)
      const ids = new Set(yield* flood)
      const first = yield* Effect.promise(() => paused.readToEnd())
      assert.strictEqual(first[0].event, "ready")
      const dropped = first[first.length - 1]
      assert.strictEqual(dropped.event, "dropped")
      assert.strictEqual(dropped.data.reason, "slow-consumer")
      assert.strictEqual(dropped.data.limit, 8)
      const delivered = first.filter((e) => e.event === "message")
      // The last change it delivered, if it delivered any: a reader paused from the start may be dropped before its
      // stream wrote one (the flood's first changes published before the stream's first pull), and then resumes
      // from where it subscribed, which `ready` precedes.
      if (delivered.length > 0) assert.strictEqual(dropped.data.lastEventId, delivered[delivered.length - 1].id)
      // The resumed reader catches up with the flood's changes while the feed may still be publishing its last ones
      // (`?wait=true` answers once a task has finished; the feed publishes a slice a turn): dropped again when more
      // than its buffer (8) are published meanwhile, it resumes again after the last change it delivered, as a
      // client does, until it has read every task's end.
      const unfinished = new Set(ids)
      const rest: Array<SseEvent> = []
      let after: string = dropped.data.lastEventId
      for (;;) {
        const resumed = yield* openPaused(`${base}/api/events`, { "last-event-id": after })
        const read = yield* Effect.promise(() =>
          resumed.readUntil((e) => {
            if (e.event === "message" && e.data.status === "completed") unfinished.delete(e.data.id)
            return unfinished.size === 0
          })
        )
        assert.strictEqual(read[0].event, "ready")
        const messages = read.filter((e) => e.event === "message")
        rest.push(...messages)
        const last = read[read.length - 1]
        if (last.event !== "dropped") break
        after = messages.length > 0 ? messages[messages.length - 1].id! : after
        assert.strictEqual(last.data.lastEventId, after)
      }
      const ours = [...delivered, ...rest].filter((e) => ids.has(e.data.id))
      // Every change of every task, each once: submitted, started, one per block, completed.
      assert.strictEqual(ours.length, floodTasks * (floodBlocks + 3))
      const seqs = ours.map((e) => Number(e.id!.split("-")[1]))
      assert.isTrue(seqs.every((n, i) => i === 0 || n > seqs[i - 1]), "ids grow")
      // `/metrics` counts the drops once: each scrape adds those since the last, so a second scrape with no drop
      // since reads the same total.
      const droppedTotal = Effect.map(request("GET", "/metrics"), (reply) =>
        Number(/^chainjobs_event_subscribers_dropped_total (\S+)$/m.exec(reply.text)?.[1]))
      const total = yield* droppedTotal
      assert.isAtLeast(total, 1)
      assert.strictEqual(yield* droppedTotal, total)
    }), 30_000)

  it.effect("WatchAll over WebSocket drops a client that stops reading, with SubscriberDropped", () =>
    Effect.gen(function*() {
      const rpc = yield* rawRpc
      const watching = yield* Deferred.make<void>()
      // Changes until the watch has seen one (it cannot say when it stands).
      yield* Effect.forkScoped(
        request("POST", "/api/tasks/demo-scan", { body: scan(1) }).pipe(
          Effect.andThen(Effect.sleep("50 millis")),
          Effect.repeat({ until: () => Deferred.isDoneUnsafe(watching) })
        )
      )
      const outcome = yield* rpc.WatchAll().pipe(
        // The first change stalls the reader until a flood is over.
        Stream.mapEffect((info, index) =>
          index === 0 ? Effect.as(Effect.andThen(Deferred.succeed(watching, undefined), flood), info) : Effect.succeed(info)),
        Stream.runDrain,
        Effect.flip
      )
      assert.strictEqual(outcome._tag, "SubscriberDropped")
    }), 30_000)
  it.effect("the client's watchChanges (under watchAll), dropped for stopping to read, resumes after the last change it delivered and misses nothing", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const client = Context.get(
        yield* Layer.build(TaskRpcClient.layerWebsocket({ url: `${base.replace(/^http/, "ws")}/ws`, token: "none" })),
        TaskRpcClient.TaskRpcClient
      )
      const watching = yield* Deferred.make<void>()
      const ids = yield* Deferred.make<ReadonlySet<string>>()
      // Changes until the watch has seen one (it cannot say when it stands).
      yield* Effect.forkScoped(
        request("POST", "/api/tasks/demo-scan", { body: scan(1) }).pipe(
          Effect.andThen(Effect.sleep("50 millis")),
          Effect.repeat({ until: () => Deferred.isDoneUnsafe(watching) })
        )
      )
      // After the flood, a task every 100 ms until the watch has seen one of them finish: the end of the watch.
      const after = new Set<string>()
      const afterFlood = request("POST", "/api/tasks/demo-scan", { body: scan(1) }).pipe(
        Effect.tap(({ body }) => Effect.sync(() => after.add(body.taskId))),
        Effect.andThen(Effect.sleep("100 millis")),
        Effect.forever
      )
      const seen = yield* client.watchChanges().pipe(
        // The first change stalls the reader until a flood is over: the server drops it meanwhile.
        Stream.mapEffect((item, index) =>
          index > 0 ? Effect.succeed(item) : Deferred.succeed(watching, undefined).pipe(
            Effect.andThen(flood),
            Effect.flatMap((flooded) => Deferred.succeed(ids, new Set(flooded))),
            Effect.andThen(Effect.forkScoped(afterFlood)),
            Effect.as(item)
          )),
        Stream.takeUntil((item) =>
          item._tag === "Change" && !("_tag" in item.event) && after.has(item.event.id) && item.event.status === "completed"
        ),
        Stream.runCollect
      )
      const flooded = yield* Deferred.await(ids)
      assert.isFalse(seen.some((item) => item._tag === "Reset"), "the ring still held the change it resumed after")
      const ours = seen.flatMap((item) =>
        item._tag === "Change" && !("_tag" in item.event) && flooded.has(item.event.id) ? [item] : []
      )
      // Every change of every task, each once: submitted, started, one per block, completed.
      assert.strictEqual(ours.length, floodTasks * (floodBlocks + 3))
      const seqs = ours.map((item) => Number(item.eventId.split("-")[1]))
      assert.isTrue(seqs.every((n, i) => i === 0 || n > seqs[i - 1]), "ids grow")
    }), 60_000)
})

layer(testServer({ eventBuffer: 1024, eventReplay: 4 }), { excludeTestServices: true })("resuming /api/events", (it) => {
  it.effect("an id older than the replay ring starts the resumed stream with reset (expired)", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const live = yield* openPaused(`${base}/api/events`)
      const one = yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: scan(1) })
      const seen = yield* Effect.promise(() => live.readUntil((e) => e.data.id === one.body.id && e.data.status === "completed"))
      const last = seen[seen.length - 1].id!
      yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: scan(8) })
      const resumed = yield* openPaused(`${base}/api/events`, { "last-event-id": last })
      const events = yield* Effect.promise(() => resumed.readUntil((e) => e.event === "reset"))
      assert.deepStrictEqual(events.map((e) => e.event), ["ready", "reset"])
      assert.deepStrictEqual(events[1].data, { reason: "expired", after: last })
    }))

  it.effect("WatchChanges resumed after an expired id starts with Reset (expired), after an unknown one with Reset (unknown)", () =>
    Effect.gen(function*() {
      const rpc = yield* rawRpc
      // Changes until the watch has seen one (it cannot say when it stands).
      const submitting = yield* Effect.forkScoped(Effect.forever(
        Effect.andThen(request("POST", "/api/tasks/demo-scan", { body: scan(1) }), Effect.sleep("50 millis"))
      ))
      const seen = yield* Stream.runHead(rpc.WatchChanges({}))
      yield* Fiber.interrupt(submitting)
      assert.isTrue(seen._tag === "Some" && seen.value._tag === "Change")
      const id = seen._tag === "Some" && seen.value._tag === "Change" ? seen.value.eventId : ""
      // Past the ring of 4.
      yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: scan(8) })
      const expired = yield* Stream.runHead(rpc.WatchChanges({ after: id }))
      assert.deepStrictEqual(expired, Option.some({ _tag: "Reset" as const, reason: "expired" as const, after: id }))
      const unknown = yield* Stream.runHead(rpc.WatchChanges({ after: "nope-1" }))
      assert.deepStrictEqual(unknown, Option.some({ _tag: "Reset" as const, reason: "unknown" as const, after: "nope-1" }))
    }))

  it.effect.prop(
    "an id this server never sent starts the resumed stream with reset (unknown), then live changes",
    [Schema.String.check(Schema.isMaxLength(40))],
    ([text]) =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        // A header value: printable ASCII, not blank.
        const garbled = text.replace(/[^!-~]/g, "x") || "x"
        const resumed = yield* openPaused(`${base}/api/events`, { "last-event-id": garbled })
        const { body } = yield* request("POST", "/api/tasks/demo-scan", { body: scan(1) })
        const events = yield* Effect.promise(() => resumed.readUntil((e) => e.data.id === body.taskId))
        assert.deepStrictEqual(events.slice(0, 2).map((e) => e.event), ["ready", "reset"])
        assert.strictEqual(events[1].data.reason, "unknown")
      }),
    { arbitrary: { runs: 15 } }
  )
})

layer(testServer(), { excludeTestServices: true })("deletions on the all-tasks streams", (it) => {
  it.effect("a deleted task reaches /api/events as `deleted` (with an id to resume from) and WatchAll as Deleted", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const rpc = yield* rawRpc
      const live = yield* openPaused(`${base}/api/events`)
      const completedOverRpc = yield* Deferred.make<string>()
      const overRpc = yield* Effect.forkScoped(rpc.WatchAll().pipe(
        Stream.tap((item) =>
          "_tag" in item || item.status !== "completed" ? Effect.void : Deferred.succeed(completedOverRpc, item.id)),
        Stream.filter((item) => "_tag" in item),
        Stream.runHead
      ))
      const { body } = yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: scan(1) })
      // WatchAll follows from the time it is subscribed: the deletion comes after it has seen the task.
      assert.strictEqual(yield* Deferred.await(completedOverRpc), body.id)
      const gone = yield* request("DELETE", `/api/tasks/${body.id}`)
      assert.strictEqual(gone.status, 204)
      const events = yield* Effect.promise(() => live.readUntil((e) => e.event === "deleted"))
      const ours = events.filter((e) => e.event !== "ready" && e.data.id === body.id)
      assert.deepStrictEqual(ours.map((e) => e.event === "deleted" ? "deleted" : e.data.status), [
        "pending",
        "running",
        "running",
        "completed",
        "deleted"
      ])
      const deleted = ours[ours.length - 1]
      assert.strictEqual(deleted.data.status, "completed", "the record as it stood when deleted")
      assert.isTrue(deleted.id !== undefined && deleted.id !== ours[ours.length - 2].id)

      // A reader resuming from before the deletion is told of it too.
      const resumed = yield* openPaused(`${base}/api/events`, { "last-event-id": ours[ours.length - 2].id! })
      const replayed = yield* Effect.promise(() => resumed.readUntil((e) => e.event === "deleted"))
      assert.deepStrictEqual(replayed.map((e) => e.event), ["ready", "deleted"])
      assert.strictEqual(replayed[1].id, deleted.id)

      const seen = yield* Fiber.join(overRpc)
      assert.isTrue(seen._tag === "Some" && "_tag" in seen.value && seen.value._tag === "Deleted" && seen.value.info.id === body.id)
    }), 20_000)
})
