/**
 * A daemon whose singleton stops while its submission is under way: the
 * owner may record the task after the daemon gave up on it, and that task ran
 * on with no singleton owning it (seen in session 9: a runner's daemon's loop
 * task recorded 0.1 s after the runner began stopping the singleton, adopted
 * as lost elsewhere while it still ran here). The submission is let finish,
 * and its task interrupted once recorded (`ClusterTasks`' daemon run); none
 * begins once the stop has, and the stop waits for as long as a submission
 * can take (`ClusterTasks.submissionLimit`): a fixed 30 s was shorter than a
 * submission whose shard opens late on its owner. A runner of `Runner.layer`
 * in the test process (`InProcessCluster.ts`) on PostgreSQL; the insert of the
 * daemon's task waits for the test, as a slow database would make it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Schedule } from "effect"
import type { TaskStore } from "@chainjobs/tasks"
import { ClusterTasks } from "@chainjobs/cluster"
import { eventually, Gated, makeCluster, settled } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/**
 * Starts a lone runner whose daemon's task insert waits, stops the daemon while it waits, lets the insert go
 * `insertAfterStop` later, and checks that the task is interrupted once recorded and nothing more is submitted.
 */
const stoppedWhileInserting = (insertAfterStop: Duration.Input) =>
  Effect.gen(function*() {
    const cluster = yield* makeCluster
    const payload = { gate: "never" }
    const name = ClusterTasks.singletonNameOf("daemon", "gated", payload)
    // the insert of a task of the daemon waits for `recorded`; `inserting` says which one began
    const inserting = Deferred.makeUnsafe<string>()
    const recorded = Deferred.makeUnsafe<void>()
    const slowInsert = (store: TaskStore.TaskStore["Service"]): TaskStore.TaskStore["Service"] => ({
      ...store,
      insert: (info) =>
        ClusterTasks.isDaemonTask(name, info.id)
          ? Deferred.succeed(inserting, info.id).pipe(Effect.andThen(Deferred.await(recorded)), Effect.andThen(store.insert(info)))
          : store.insert(info)
    })
    // alone: the daemon and its task's shard are on it
    const a = yield* cluster.start("a", { storeFault: slowInsert })
    yield* settled([a])
    const daemon = yield* a.tasks.daemon(Gated, payload, { restart: Schedule.spaced("100 millis") })
    const id = yield* Deferred.await(inserting).pipe(
      Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error("the daemon never submitted its task")) })
    )
    // the singleton stops (its declaration withdrawn) while the task is being recorded; then the insert ends
    yield* daemon.stop
    yield* Effect.sleep(insertAfterStop)
    yield* Deferred.succeed(recorded, undefined)
    let seen = "not read yet"
    yield* eventually(
      Effect.map(Effect.orDie(a.tasks.get(id)), (info) => {
        seen = info.status
        return info.status === "interrupted"
      }),
      () => `the task submitted as its daemon stopped is interrupted once recorded: it is ${seen}`
    )
    // the store's list may trail the interruption's write: the ids alone
    const page = yield* a.tasks.list({ kind: ["gated"] })
    assert.deepStrictEqual(page.items.map((info) => info.id), [id], "nothing submitted after the stop")
  }).pipe(Effect.scoped)

describe.skipIf(pgTestUrl === undefined)("a daemon stopped while its submission is under way", () => {
  it.live("lets the submission finish and interrupts its task once recorded; submits nothing more", () =>
    stoppedWhileInserting(Duration.zero), { timeout: 90_000 })

  // longer than the 30 s the stop used to wait, shorter than what a submission can take
  it.live("waits for a submission answered 33 s after the stop, and interrupts its task", () => {
    assert.isAbove(Duration.toMillis(ClusterTasks.submissionLimit), 35_000)
    return stoppedWhileInserting(Duration.seconds(33))
  }, { timeout: 150_000 })
})
