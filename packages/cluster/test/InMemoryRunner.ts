/**
 * A runner's routing in the test process, fast: its own supervisor over the
 * memory task store (through `Runner.runnerView`, as a runner's), the task
 * entity with its adoption (`TaskEntity`), the direct admission if asked
 * (`LocalAdmission`), the feed (`ClusterFeed`, on the test database's
 * `LISTEN`/`NOTIFY`, a channel of its own per runner) and the runner's
 * `Tasks` (`ClusterTasks`) — assembled as `Runner.layer` assembles them, on
 * effect's in-memory sharding (`InMemorySharding.ts`): one runner holding
 * every shard, its messages to its own entities delivered in memory.
 *
 * `InProcessCluster.ts` starts whole runners (`Runner.layer`: a database of
 * their own, socket transport, shard locks), about 25 s a test; this takes
 * about a second, so a mutation run can afford it for every mutant of
 * `TaskEntity.ts` and `ClusterTasks.ts`. What it cannot show: a second
 * runner, shards moving.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Deferred, Duration, Effect, Exit, Layer, Option, Redacted, Schema, type Scope } from "effect"
import type { RunnerStorage, Sharding } from "effect/cluster"
import { Reactivity } from "effect/reactivity"
import { ClusterFeed, ClusterTasks, LocalAdmission, LocalPlacement, Runner, TaskEntity } from "@chainjobs/cluster"
import { Task, TaskContext, TaskInfo, Tasks, TasksConfig, TaskStore } from "@chainjobs/tasks"
import * as LiveRunners from "../src/LiveRunners.ts"
import { shards } from "./InMemorySharding.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/** Waits until the gate `gate` opens, then answers its payload's `gate`. */
export const Gated = Task.define("gated", { payload: Schema.Struct({ gate: Schema.String }), success: Schema.String })

/** Holds its key until the gate `gate` opens; a second submission of a busy key is refused. */
export const Keyed = Task.define("keyed", {
  payload: Schema.Struct({ key: Schema.String, gate: Schema.String }),
  success: Schema.String,
  policy: { key: ({ key }) => key, onConflict: "reject" }
})

/** Counts its steps `1..to`, one per gate `<gate>/<step>`, checkpointed after each; resumes where it stopped. */
export const Scan = Task.define("scan", {
  payload: Schema.Struct({ gate: Schema.String, to: Schema.Number }),
  success: Schema.Number,
  checkpoint: Schema.Struct({ next: Schema.Number }),
  policy: { onRestart: "resume" }
})

/** Records a tick: what the schedules and daemons of the tests submit. */
export const Tick = Task.define("tick", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Void })

/** The address the runner's records name. */
export const address = "in-memory:1"

/** A runner's settings. */
export interface InMemoryRunnerOptions {
  /** Submissions of this runner's shards admitted straight into its supervisor (`LocalAdmission`). Default: off. */
  readonly directAdmission?: boolean
  /** Unkeyed tasks' ids chosen to land on this runner's shards (`LocalPlacement`, needs direct admission). Default: off. */
  readonly localPlacement?: boolean
  /** The supervisor's `maxWorkers`. Default: 20. */
  readonly maxWorkers?: number
}

/** One runner's routing and what a test looks into. */
export interface InMemoryRunner {
  /** The runner's `Tasks` (`ClusterTasks`). */
  readonly tasks: Tasks.Tasks["Service"]
  /** Its own supervisor. */
  readonly local: Tasks.Tasks["Service"]
  readonly entity: TaskEntity.Host
  readonly admission: LocalAdmission.LocalAdmission
  /** Every start and end of the test kinds, as `<event> <task> <attempt>`. */
  readonly happenings: Array<string>
  /** Opens gate `name` (made if not yet waited on). */
  open(name: string): Effect.Effect<void>
}

/**
 * Starts a runner over the `TaskStore` (the records it finds unfinished are adopted by the shards' adoption) and the
 * sharding of the context, until the scope closes: then it hands its tasks over as a runner stopping does. Every gate
 * opens when the scope closes.
 */
export const start = (
  options: InMemoryRunnerOptions = {}
): Effect.Effect<InMemoryRunner, never, Scope.Scope | Sharding.Sharding | RunnerStorage.RunnerStorage | TaskStore.TaskStore> =>
  Effect.gen(function*() {
    const store = yield* TaskStore.TaskStore
    const gates = new Map<string, Deferred.Deferred<void>>()
    const gate = (name: string) => {
      let found = gates.get(name)
      if (found === undefined) gates.set(name, found = Deferred.makeUnsafe<void>())
      return found
    }
    yield* Effect.addFinalizer(() => Effect.sync(() => gates.forEach((found) => Deferred.doneUnsafe(found, Exit.void))))
    const happenings: Array<string> = []
    const local = yield* Tasks.make.pipe(
      Effect.provideService(
        TasksConfig.TasksConfig,
        TasksConfig.make({ maxWorkers: options.maxWorkers ?? 20, shutdownGracePeriod: "5 seconds", runner: address })
      ),
      Effect.provideService(TaskStore.TaskStore, Runner.runnerView(store, address))
    )
    // registered before the adoption starts: the records found unfinished are of these kinds
    yield* local.register(Gated, ({ gate: name }) => Effect.as(Deferred.await(gate(name)), name), Context.empty())
    yield* local.register(Keyed, ({ gate: name }) => Effect.as(Deferred.await(gate(name)), name), Context.empty())
    yield* local.register(
      Scan,
      ({ gate: name, to }) =>
        Effect.gen(function*() {
          const { attempt, taskId } = yield* TaskContext.TaskContext
          let { next } = Option.getOrElse(yield* Task.loadCheckpoint(Scan), () => ({ next: 1 }))
          happenings.push(`start ${taskId} ${attempt} at ${next}`)
          for (; next <= to; next++) {
            yield* Deferred.await(gate(`${name}/${next}`))
            yield* Task.saveCheckpoint(Scan, { next: next + 1 })
          }
          return to
        }),
      Context.empty()
    )
    const live = yield* LiveRunners.make(address, Duration.seconds(10))
    const entity = yield* TaskEntity.make(local, live)
    const admission = options.directAdmission === true ? yield* LocalAdmission.make(local, shards, entity.openShards) : LocalAdmission.none
    yield* Layer.build(TaskEntity.layer(entity, admission.submit))
    yield* TaskEntity.adoption(entity, shards, "50 millis")
    yield* Effect.addFinalizer(() => Effect.all([admission.close, entity.close], { concurrency: "unbounded", discard: true }))
    const pg = yield* PgClient.make({ url: Redacted.make(pgTestUrl ?? ""), maxConnections: 2 }).pipe(
      Effect.provide(Reactivity.layer),
      Effect.orDie
    )
    const feed = yield* Effect.orDie(ClusterFeed.make({ local, origin: address, channel: `chainjobs_test_${TaskInfo.makeId(Date.now()).replaceAll("-", "")}`, pg }))
    const placing = options.localPlacement === true ? yield* LocalPlacement.make(local, admission) : LocalPlacement.spread
    const tasks = yield* ClusterTasks.make(local, feed, admission, placing)
    yield* tasks.register(Tick, (_, { attempt, taskId }) => Effect.sync(() => void happenings.push(`tick ${taskId} ${attempt}`)), Context.empty())
    return {
      tasks,
      local,
      entity,
      admission,
      happenings,
      open: (name) => Effect.asVoid(Deferred.succeed(gate(name), undefined))
    }
  })
