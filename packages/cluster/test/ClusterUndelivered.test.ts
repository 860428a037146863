/**
 * A cluster call the cluster could not deliver (`ClusterTasks`' `routed`): the
 * transport's delivery failures (`MailboxFull`, `AlreadyProcessingMessage`,
 * `PersistenceError`, `EntityNotAssignedToRunner`) reach a caller of
 * `submit` or `interrupt` as the store-unavailable error callers already
 * handle (`TaskStoreError`, operation `route`, HTTP 503), naming the failure,
 * and change nothing. The fault is injected where the transport would make
 * it: the cluster's client of the task entity fails every call with the
 * failure; the runner's supervisor and its store are real.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Option, Schema } from "effect"
import { ClusterError, EntityAddress, EntityId, Sharding, ShardId, Snowflake } from "effect/cluster"
import { type ClusterFeed, ClusterTasks, TaskEntity } from "@chainjobs/cluster"
import { Task, TaskError, TaskInfo, Tasks, TasksConfig, TaskStore } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"

/** Echoes its text. */
const Echo = Task.define("echo", { payload: Schema.Struct({ text: Schema.String }), success: Schema.String })

const address = new EntityAddress.EntityAddress({
  entityType: TaskEntity.TaskEntity.type,
  entityId: EntityId.make("b/1"),
  shardId: ShardId.make("default", 1)
})

/** Each delivery failure the cluster's client may answer a call with. */
const failures = [
  new ClusterError.MailboxFull({ address }),
  new ClusterError.AlreadyProcessingMessage({ address, envelopeId: Snowflake.Snowflake(BigInt(1)) }),
  new ClusterError.PersistenceError({ cause: new Error("the message table is out of reach") }),
  new ClusterError.EntityNotAssignedToRunner({ address })
]

/**
 * The runner's `Tasks` over its real supervisor and memory store, with a cluster whose every call of the task
 * entity fails with `failure`; `calls` counts them.
 */
const undeliverable = (failure: (typeof failures)[number]) =>
  Effect.gen(function*() {
    const store = yield* TaskStore.makeMemory
    const local = yield* Tasks.make.pipe(
      Effect.provideService(TasksConfig.TasksConfig, TasksConfig.make({ shutdownGracePeriod: 0 })),
      Effect.provideService(TaskStore.TaskStore, store)
    )
    yield* local.register(Echo, ({ text }) => Effect.succeed(text), Context.empty())
    const calls: Array<string> = []
    const refuse = (name: string) => () => Effect.suspend(() => {
      calls.push(name)
      return Effect.fail(failure)
    })
    const client = { Submit: refuse("Submit"), Run: refuse("Run"), Interrupt: refuse("Interrupt"), Await: refuse("Await") }
    const sharding = { makeClient: () => Effect.succeed(() => client) } as unknown as Sharding.Sharding["Service"]
    // A submission reaches the feed only to be followed (`expect`), withdrawn when it fails; an interrupt not at all.
    const expected = new Set<string>()
    const feed = {
      expect: (id: string) => {
        expected.add(id)
        return () => void expected.delete(id)
      }
    } as unknown as ClusterFeed.ClusterFeed
    const tasks = yield* ClusterTasks.make(local, feed).pipe(
      Effect.provideService(TaskStore.TaskStore, store),
      Effect.provideService(Sharding.Sharding, sharding)
    )
    return { tasks, store, calls, expected }
  })

/** A record of an unfinished task, as another runner would have stored it. */
const unfinished = (id: string): TaskInfo.TaskInfo =>
  record({ id, kind: "echo", status: "running", payload: { text: "elsewhere" }, createdAt: 1, startedAt: 1, heartbeatAt: 1 })

describe("ClusterTasks, a call the cluster could not deliver", () => {
  for (const failure of failures) {
    it.live(`${failure._tag}: submit and interrupt fail as the store being unavailable, naming it, and change nothing`, () =>
      Effect.gen(function*() {
        const { calls, expected, store, tasks } = yield* undeliverable(failure)
        const submitted = yield* Effect.flip(tasks.submit(Echo, { text: "hello" }))
        assert.instanceOf(submitted, TaskError.TaskStoreError)
        assert.deepInclude(submitted, {
          operation: "route",
          detail: `the cluster could not deliver the call: ${failure._tag}`,
          cause: failure
        })
        assert.strictEqual(submitted.message, `task store route: the cluster could not deliver the call: ${failure._tag}`)
        const encoded = yield* Effect.flip(tasks.submitEncoded("echo", { text: "hello" }))
        assert.deepInclude(encoded, { _tag: "TaskStoreError", operation: "route" })
        assert.deepStrictEqual((yield* store.list({})).items, [])
        assert.deepStrictEqual([...expected], [], "the failed submissions are no longer followed")

        const running = unfinished(TaskInfo.makeId(Date.now()))
        yield* store.insert(running)
        const interrupted = yield* Effect.flip(tasks.interrupt(running.id))
        assert.deepInclude(interrupted, {
          _tag: "TaskStoreError",
          operation: "route",
          detail: `the cluster could not deliver the call: ${failure._tag}`,
          cause: failure
        })
        assert.deepStrictEqual(Option.getOrUndefined(yield* store.get(running.id)), running)
        assert.deepStrictEqual(calls, ["Submit", "Submit", "Interrupt"])
      }).pipe(Effect.scoped))
  }

  it.live("a finished task's interrupt, and an unknown kind's submission, call nobody", () =>
    Effect.gen(function*() {
      const { calls, store, tasks } = yield* undeliverable(failures[0]!)
      const done: TaskInfo.TaskInfo = { ...unfinished(TaskInfo.makeId(Date.now())), status: "completed", finishedAt: 2, result: "x" }
      yield* store.insert(done)
      yield* tasks.interrupt(done.id)
      const unknown = yield* Effect.flip(tasks.submitEncoded("nothing", {}))
      assert.deepInclude(unknown, { _tag: "UnknownTaskKind", kind: "nothing" })
      assert.deepStrictEqual(calls, [])
    }).pipe(Effect.scoped))
})
