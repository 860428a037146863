/**
 * The access rules on what a principal follows and awaits: `watch` and
 * `awaitInfo` give the task's own records; `events` and `changes` carry the
 * changes and deletions of the caller's tasks only, and `changes` resumes
 * after an event id. Also: a principal may name itself as the owner it
 * lists; the default burst is twice the limit; a submission without a
 * webhook registers none; and a supervisor shutting down is said so, not
 * passed off as a busy key.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { CurrentPrincipal, type Principal } from "../src/Principal.ts"
import * as SubmitWebhooks from "../src/SubmitWebhooks.ts"
import * as TaskAccess from "../src/TaskAccess.ts"
import type * as TaskFeed from "../src/TaskFeed.ts"
import type { TaskInfo } from "../src/TaskInfo.ts"
import * as TaskStore from "../src/TaskStore.ts"
import * as Tasks from "../src/Tasks.ts"
import { AddLive, gateLive, settle, supervisor } from "./fixtures.ts"

const alice: Principal = { id: "alice", admin: false }
const bob: Principal = { id: "bob", admin: false }
const root: Principal = { id: "root", admin: true }

/** Runs `effect` as `principal`. */
const as = (principal: Principal) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, CurrentPrincipal, principal)

/** Access over a supervisor with `add` and `gate` (tasks that wait until the test opens them). */
const withAccess = <A, E>(
  config: Partial<TaskAccess.TaskAccessConfig>,
  body: (open: (id: string) => Effect.Effect<boolean>) => Effect.Effect<A, E, TaskAccess.TaskAccess | Tasks.Tasks | Scope.Scope>
) =>
  Effect.gen(function*() {
    const gates = yield* gateLive
    return yield* body(gates.open).pipe(
      Effect.provide(TaskAccess.layer(config).pipe(Layer.provideMerge(supervisor(Layer.merge(AddLive, gates.layer)))))
    )
  })

/** A stream's pull whose first pull has begun, so that it has subscribed before this returns. */
const pullNow = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.gen(function*() {
    const pull = yield* Stream.toPull(stream)
    let first: Fiber.Fiber<ReadonlyArray<A>, unknown> | undefined = yield* Effect.forkScoped(pull, { startImmediately: true })
    return Effect.suspend(() => {
      if (first === undefined) return pull
      const fiber = first
      first = undefined
      return Fiber.join(fiber)
    })
  })

/** Pulls until an item passes `last`. */
const takeUntil = <A, E>(pull: Effect.Effect<ReadonlyArray<A>, E>, last: (item: A) => boolean) =>
  Effect.gen(function*() {
    const items: Array<A> = []
    while (!items.some(last)) items.push(...(yield* pull))
    return items
  })

/** Pulls until `n` items have come. */
const take = <A, E>(pull: Effect.Effect<ReadonlyArray<A>, E>, n: number) =>
  Effect.gen(function*() {
    const items: Array<A> = []
    while (items.length < n) items.push(...(yield* pull))
    return items
  })

describe("TaskAccess: following tasks", () => {
  it.effect("watch gives the task's records to its owner, to the terminal one; awaitInfo waits for it", () =>
    withAccess({}, (open) =>
      Effect.gen(function*() {
        const access = yield* TaskAccess.TaskAccess
        const { id } = yield* as(alice)(access.submit({ kind: "gate", payload: { id: "g1" } }))
        const watched = yield* Effect.forkChild(as(alice)(Stream.runCollect(access.watch(id))), { startImmediately: true })
        const awaited = yield* Effect.forkChild(as(alice)(access.awaitInfo(id)), { startImmediately: true })
        yield* settle
        yield* open("g1")
        yield* settle
        const records = yield* Fiber.join(watched)
        assert.isTrue(records.every((info) => info.id === id))
        assert.strictEqual(records[0].status, "running")
        assert.strictEqual(records[records.length - 1].status, "completed")
        const final = yield* Fiber.join(awaited)
        assert.deepStrictEqual([final.id, final.status, final.result], [id, "completed", "g1"])
        // once finished, awaitInfo answers at once with the same record
        assert.deepStrictEqual(yield* as(alice)(access.awaitInfo(id)), final)
        const changes = yield* as(alice)(Stream.runCollect(access.watchChanges(id)))
        assert.deepStrictEqual(changes.map((change) => [change.info.id, change.info.status]), [[id, "completed"]])
      })))

  it.effect("events carry the changes and deletions of the caller's tasks only; an admin's carry everyone's", () =>
    withAccess({}, () =>
      Effect.gen(function*() {
        const access = yield* TaskAccess.TaskAccess
        const mine = yield* as(alice)(pullNow(access.events))
        const all = yield* as(root)(pullNow(access.events))
        const a = yield* as(alice)(access.submit({ kind: "add", payload: { a: 1, b: 2 } }))
        const b = yield* as(bob)(access.submit({ kind: "add", payload: { a: 3, b: 4 } }))
        yield* settle
        yield* as(alice)(access.delete(a.id))
        yield* settle
        const describe = (item: TaskInfo | { readonly _tag: "Deleted"; readonly info: TaskInfo }) =>
          "_tag" in item ? `${item._tag} ${item.info.id === a.id ? "a" : "b"}` : `${item.id === a.id ? "a" : "b"} ${item.status}`
        const isDeletion = (item: TaskInfo | { readonly _tag: "Deleted" }) => "_tag" in item
        const seen = (yield* takeUntil(mine, isDeletion)).map(describe)
        assert.deepStrictEqual(seen.slice(-2), ["a completed", "Deleted a"])
        assert.isTrue(seen.every((line) => line.endsWith("a") || line.startsWith("a ")), seen.join(", "))
        const everyone = (yield* takeUntil(all, isDeletion)).map(describe)
        assert.include(everyone, "b completed")
        assert.include(everyone, "Deleted a")
        void b
      })))

  it.effect("changes resume after an event id with what followed, the caller's only", () =>
    withAccess({}, () =>
      Effect.gen(function*() {
        const access = yield* TaskAccess.TaskAccess
        const first = yield* as(alice)(pullNow(access.changes()))
        const a = yield* as(alice)(access.submit({ kind: "add", payload: { a: 1, b: 2 } }))
        yield* settle
        const seen = (yield* take(first, 1)) as ReadonlyArray<TaskFeed.Change>
        yield* as(bob)(access.submit({ kind: "add", payload: { a: 3, b: 4 } }))
        const c = yield* as(alice)(access.submit({ kind: "add", payload: { a: 5, b: 6 } }))
        yield* settle
        const resumed = yield* as(alice)(Stream.toPull(access.changes(seen[0].eventId)))
        const items = (yield* resumed) as ReadonlyArray<TaskFeed.Change>
        assert.isAbove(items.length, 0)
        assert.isTrue(items.every((change) => change._tag === "Change" && change.info.owner === "alice"))
        const seqs = items.map((change) => change.seq)
        assert.deepStrictEqual(seqs, [...seqs].sort((x, y) => x - y))
        assert.include(items.map((change) => change.info.id), c.id)
        assert.isTrue(items.every((change) => change.seq > seen[0].seq))
        void a
      })))
})

describe("TaskAccess: submissions and listing", () => {
  it.effect("a principal may name itself as the owner it lists and counts", () =>
    withAccess({}, () =>
      Effect.gen(function*() {
        const access = yield* TaskAccess.TaskAccess
        yield* as(alice)(access.submit({ kind: "add", payload: { a: 1, b: 2 } }))
        yield* as(bob)(access.submit({ kind: "add", payload: { a: 1, b: 2 } }))
        assert.strictEqual((yield* as(alice)(access.list({ owner: "alice" }))).items.length, 1)
        assert.strictEqual(Object.values(yield* as(alice)(access.count({ owner: "alice" }))).reduce((x, y) => x + y, 0), 1)
      })))

  it.effect("without a burst, a principal's bucket holds twice its limit", () =>
    withAccess({ submitLimit: 2, submitWindow: "1 hour" }, () =>
      Effect.gen(function*() {
        const access = yield* TaskAccess.TaskAccess
        assert.strictEqual(access.config.submitBurst, undefined)
        for (let i = 0; i < 4; i++) yield* as(alice)(access.submit({ kind: "add", payload: { a: i, b: 0 } }))
        const over = yield* Effect.flip(as(alice)(access.submit({ kind: "add", payload: { a: 9, b: 0 } })))
        assert.strictEqual(over._tag, "TaskAccessError")
        assert.strictEqual((over as { readonly reason: { readonly _tag: string } }).reason._tag, "QuotaExceeded")
      })))

  it.effect("a submission without a webhook registers none", () => {
    const registered: Array<string> = []
    const hooks: SubmitWebhooks.SubmitWebhooksService = {
      check: (url) => Effect.succeed(new URL(url)),
      register: (taskId) => Effect.sync(() => void registered.push(taskId)),
      abandon: () => Effect.void
    }
    return withAccess({}, () =>
      Effect.gen(function*() {
        const access = yield* TaskAccess.TaskAccess
        yield* as(alice)(access.submit({ kind: "add", payload: { a: 1, b: 2 } }))
        assert.deepStrictEqual(registered, [])
        const { id } = yield* as(alice)(access.submit({ kind: "add", payload: { a: 1, b: 2 }, webhook: "https://example.com/h" }))
        assert.deepStrictEqual(registered, [id])
      })).pipe(Effect.provideService(SubmitWebhooks.SubmitWebhooks, hooks))
  })

  it.effect("a submission to a supervisor shutting down is refused as shutting-down, not as a busy key", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        TaskAccess.layer().pipe(
          Layer.provideMerge(AddLive.pipe(Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: 0 })))),
          Layer.provide(TaskStore.layerMemory)
        ),
        scope
      )
      const access = Context.get(context, TaskAccess.TaskAccess)
      yield* Scope.close(scope, Exit.void)
      const refused = yield* Effect.flip(as(alice)(access.submit({ kind: "add", payload: { a: 1, b: 2 } })))
      assert.strictEqual(refused._tag, "SubmitRejected")
      assert.strictEqual((refused as { readonly reason: string }).reason, "shutting-down")
    }))
})

