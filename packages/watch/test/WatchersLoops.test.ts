/**
 * The watchers' loops, as they run by themselves (no `poll`): in this process
 * (`local` placement), started by `add` and `resume`, stopped by `pause` and
 * `remove`, going on after a failed tick (a warning), started again after a restart for
 * the active watchers only; and as `WatcherLoop` tasks kept running by
 * daemons (`tasks` placement), which idle while their watcher is paused,
 * stop when it is removed (here, or elsewhere: at the next read of the tables), and
 * follow a watcher another process wrote into the shared tables once the
 * tables are read again (a read that fails is a warning, and the reads go on).
 *
 * "Not followed" is checked against a clock: another active watcher of the
 * same account, ticking at the same interval, has processed the transfer
 * (and one after it), so the loop under test has had its ticks too.
 */
import { TaskError, type TaskInfo, Tasks } from "@chainjobs/tasks"
import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option } from "effect"
import { SqlClient } from "effect/sql"
import * as Watchers from "../src/Watchers.ts"
import * as WatchStore from "../src/WatchStore.ts"
import { address, DevChain, eventually, node, processedCounts, Record, runtime, tempDirectory, warningLog, watcherRow } from "./fixtures.ts"
import { steppingWatchers } from "./steppingAdapter.ts"

/** Sends a transfer to `to` from dev account `from`; its item id. */
const sent = (from: number, to: string) =>
  Effect.gen(function*() {
    const act = node((yield* DevChain.DevChain).url)
    return `dev:${yield* act.sendRaw(yield* act.sign(from, to as `0x${string}`, 1n))}`
  })

/** Waits until the watcher's processor has run for the item: at most 30 s, then fails saying what the watcher had done. */
const processed = (watcher: string, item: string) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 30_000
    while (!(yield* processedCounts(watcher)).has(item)) {
      if (Date.now() > deadline) {
        const watchers = yield* Watchers.Watchers
        const lag = yield* watchers.lag(watcher)
        return assert.fail(
          `watcher ${watcher} has not processed ${item} in 30 s: it processed ${JSON.stringify(yield* counts(watcher))}, lag ${JSON.stringify(lag)}`
        )
      }
      yield* Effect.sleep("25 millis")
    }
  })

/** The watchers whose `WatcherLoop` task is in one of `statuses`, sorted: what the `tasks` placement tests read of the loops. */
const loopsIn = (tasks: Tasks.Tasks["Service"], statuses: ReadonlyArray<TaskInfo.TaskStatus>) =>
  Effect.map(
    tasks.list({ kind: [Watchers.WatcherLoop.name], limit: 100 }),
    (page) => page.items.filter((task) => statuses.includes(task.status)).map((task) => (task.payload as { watcher: string }).watcher).sort()
  )

/** The items the watcher has processed, each with its count. */
const counts = (watcher: string) => Effect.map(processedCounts(watcher), (found) => Array.from(found.entries()).sort())

/**
 * Sends a transfer to `account` and waits until the `clock` watcher (active, same account) has processed it and one
 * more sent after it: every loop at the clock's interval has ticked past the first. Returns the first's item id.
 */
const unseen = (clock: string, account: string, from: number) =>
  Effect.gen(function*() {
    const item = yield* sent(from, account)
    yield* processed(clock, item)
    yield* processed(clock, yield* sent(from, account))
    return item
  })

/** A fresh directory and a watch runtime on it, on the file's dev chain, for the body. */
const inRuntime = <A, E, R>(directory: string, options: Parameters<typeof runtime>[2], body: Effect.Effect<A, E, R>) =>
  Effect.flatMap(DevChain.DevChain, (chain) => body.pipe(Effect.provide(runtime(directory, chain.url, options), { local: true })))

layer(DevChain.layer(), { excludeTestServices: true, timeout: 120_000 })("Watchers' loops", (it) => {
  it.effect("local loops: add starts following, pause stops it, resume follows on from the cursor; a paused watcher never ticks; each item processed once", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      yield* inRuntime(directory, {}, Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        const watched = address(2)
        yield* watchers.add({ name: "clock", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0 })
        yield* watchers.add({ name: "followed", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0 })
        yield* watchers.add({ name: "resting", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0, paused: true })
        const first = yield* sent(3, watched)
        yield* processed("followed", first)

        yield* watchers.pause("followed")
        const whilePaused = yield* unseen("clock", watched, 3)
        assert.deepStrictEqual(yield* counts("followed"), [[first, 1]], "a paused watcher's loop went on")
        assert.strictEqual((yield* watchers.lag("resting")).head, null, "a watcher added paused ticked")
        assert.deepStrictEqual(yield* watchers.items("resting"), [])

        yield* watchers.resume("followed")
        yield* processed("followed", whilePaused)
        const after = yield* sent(4, watched)
        yield* processed("followed", after)
        assert.deepStrictEqual((yield* counts("followed")).filter(([, count]) => count !== 1), [])
        assert.includeMembers((yield* counts("followed")).map(([id]) => id), [first, whilePaused, after])

        // removed while active, its loop stops: added again under the name, paused, it records nothing new (the audit stays)
        const audit = yield* watchers.items("followed")
        yield* watchers.remove("followed")
        yield* watchers.add({ name: "followed", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0, paused: true })
        yield* unseen("clock", watched, 4)
        assert.deepStrictEqual(yield* watchers.items("followed"), audit, "a removed watcher's loop went on")
      }))
    }).pipe(Effect.scoped), 90_000)

  it.effect("a local loop goes on after a failed tick: the next tick scans the range again and records its item once", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const watched = address(10)
      const { layer: warningLayer, warnings } = warningLog()
      yield* inRuntime(directory, {}, Effect.gen(function*() {
        const { calls, fault, watchers } = yield* steppingWatchers({ pollInterval: "50 millis" }).pipe(Effect.provide(warningLayer))
        const item = yield* sent(11, watched)
        const block = yield* Effect.flatMap(DevChain.DevChain, (chain) => node(chain.url).head)
        // the first read of the item's block fails (once); the loop's tick fails with it
        fault.failAt = block
        yield* watchers.add({ name: "faulted", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0, startBlock: block })
        yield* processed("faulted", item)
        assert.deepStrictEqual(calls.slice(0, 2).map((call) => [call.from, call.read]), [[block, []], [block, [block]]])
        assert.deepStrictEqual(yield* counts("faulted"), [[item, 1]])
        assert.strictEqual((yield* watchers.lag("faulted")).lastError, null)
        // the failed tick is a warning naming the watcher (the chain's failure does not) and what failed
        assert.deepStrictEqual(warnings, [`chainjobs watch: watcher "faulted": chain dev: injected failure at block ${block}`])
      }).pipe(Effect.scoped))
    }).pipe(Effect.scoped), 90_000)

  it.effect("a restart starts the loops of the active watchers, from their cursors, and not of the paused ones", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const watched = address(5)
      const before = yield* inRuntime(directory, {}, Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        yield* watchers.add({ name: "clock", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0 })
        yield* watchers.add({ name: "active", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0 })
        yield* watchers.add({ name: "paused", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0, paused: true })
        const item = yield* sent(6, watched)
        yield* processed("active", item)
        return item
      }))
      // while no process runs
      const meanwhile = yield* sent(6, watched)
      yield* inRuntime(directory, {}, Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        yield* processed("active", meanwhile)
        yield* unseen("clock", watched, 6)
        assert.deepStrictEqual((yield* counts("active")).filter(([, count]) => count !== 1), [])
        assert.includeMembers((yield* counts("active")).map(([id]) => id), [before, meanwhile])
        assert.deepStrictEqual(yield* counts("paused"), [])
        assert.strictEqual((yield* watchers.lag("paused")).head, null, "a paused watcher's loop started after the restart")
      }))
    }).pipe(Effect.scoped), 90_000)

  it.effect("tasks placement: each watcher's loop is a WatcherLoop task; it idles while the watcher is paused and follows on when resumed; a watcher written by another process is followed after the next read of the tables", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const watched = address(7)
      yield* inRuntime(directory, { watchers: { placement: "tasks", rescanEvery: "100 millis" } }, Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        const tasks = yield* Tasks.Tasks
        yield* watchers.add({ name: "clock", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0 })
        yield* watchers.add({ name: "placed", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0 })
        const first = yield* sent(8, watched)
        yield* processed("placed", first)
        const loops = yield* tasks.list({ kind: [Watchers.WatcherLoop.name], limit: 100 })
        assert.deepStrictEqual(
          loops.items.map((task) => [(task.payload as { watcher: string }).watcher, task.status]).sort(),
          [["clock", "running"], ["placed", "running"]]
        )

        yield* watchers.pause("placed")
        // a tick begun before the pause ends first (a poll waits for the watcher's lock), and records only what is there now
        yield* watchers.poll("placed")
        const whilePaused = yield* unseen("clock", watched, 8)
        assert.deepStrictEqual(yield* counts("placed"), [[first, 1]], "a paused watcher's placed loop went on ticking")
        yield* watchers.resume("placed")
        yield* processed("placed", whilePaused)

        // another process sharing the tables adds a watcher: its loop is placed here once the tables are read again
        const start = yield* Effect.map(Effect.flatMap(DevChain.DevChain, (chain) => node(chain.url).head), (head) => head + 1)
        const row = {
          name: "elsewhere",
          chain: "dev",
          processor: Record.name,
          confirmations: 0,
          startBlock: start,
          status: "active",
          contracts: [],
          objects: [],
          confirmedBlock: start - 1,
          confirmedHash: null,
          createdAt: 0
        } as const
        assert.isTrue(yield* WatchStore.insertWatcher(row, [watched]))
        const theirs = yield* sent(9, watched)
        yield* processed("elsewhere", theirs)
        assert.deepStrictEqual(yield* counts("elsewhere"), [[theirs, 1]])
        // the reads of the tables since (one found "elsewhere") declared no second daemon of a watcher: one loop each
        const after = yield* tasks.list({ kind: [Watchers.WatcherLoop.name], limit: 100 })
        assert.deepStrictEqual(
          after.items.map((task) => [(task.payload as { watcher: string }).watcher, task.status]).sort(),
          [["clock", "running"], ["elsewhere", "running"], ["placed", "running"]]
        )
      }))
    }).pipe(Effect.scoped), 90_000)

  it.effect("tasks placement: remove stops the watcher's loop task; a removal made by another process ends it at the next read of the tables; added again, the name is followed by a loop of its own", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const watched = address(16)
      const other = address(18)
      yield* inRuntime(directory, { watchers: { placement: "tasks", rescanEvery: "100 millis" } }, Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        const tasks = yield* Tasks.Tasks
        /** The watchers whose WatcherLoop task is running. */
        const running = loopsIn(tasks, ["running"])
        yield* watchers.add({ name: "gone", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0 })
        yield* watchers.add({ name: "dropped", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0 })
        const first = yield* sent(17, watched)
        yield* processed("gone", first)
        yield* processed("dropped", first)
        assert.deepStrictEqual(yield* running, ["dropped", "gone"])

        // removed here: its daemon is stopped and its loop task with it, before remove returns
        yield* watchers.remove("gone")
        assert.deepStrictEqual(yield* running, ["dropped"], "a removed watcher's loop task went on running")

        // removed by another process sharing the tables: the next read of the tables ends its loop here
        assert.isTrue(yield* WatchStore.deleteWatcher("dropped"))
        yield* eventually(Effect.map(running, (names) => names.length === 0), "the loop of a watcher removed elsewhere ended")

        // added again under the name (another account): a loop of its own follows it
        yield* watchers.add({ name: "gone", chain: "dev", processor: Record.name, accounts: [other], confirmations: 0 })
        yield* processed("gone", yield* sent(17, other))
        assert.deepStrictEqual(yield* running, ["gone"])
      }))
    }).pipe(Effect.scoped), 90_000)

  it.effect("tasks placement: a watcher removed while its daemon is being declared has that daemon stopped once the supervisor keeps it: no loop task of it is left", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const watched = address(19)
      yield* inRuntime(directory, {}, Effect.gen(function*() {
        // the supervisor keeps a daemon declared here only once the gate opens
        const tasks = yield* Tasks.Tasks
        const gate = yield* Deferred.make<void>()
        const gated = Tasks.Tasks.of({
          ...tasks,
          daemon: (kind, payload, options) => Effect.andThen(Deferred.await(gate), tasks.daemon(kind, payload, options))
        })
        const watchers = yield* Watchers.make({ placement: "tasks", rescanEvery: "1 hour", pollInterval: "50 millis" }).pipe(
          Effect.provideService(Tasks.Tasks, gated)
        )
        const adding = yield* Effect.forkChild(watchers.add({ name: "brief", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0 }))
        yield* eventually(Effect.map(WatchStore.getWatcher("brief"), Option.isSome), "the watcher stored")
        yield* watchers.remove("brief")
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(adding)
        // a watcher added after it: once its loop task runs, one the kept daemon of "brief" submitted before would too
        yield* watchers.add({ name: "witness", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0 })
        const unfinished = loopsIn(tasks, ["pending", "running"])
        yield* eventually(Effect.map(unfinished, (names) => names.includes("witness")), "the witness's loop task runs")
        assert.deepStrictEqual(yield* unfinished, ["witness"], "the daemon of a watcher removed while it was declared was kept")
      }).pipe(Effect.scoped))
    }).pipe(Effect.scoped), 90_000)

  it.effect("tasks placement: a read of the tables that fails logs a warning and the reads go on: a watcher another process writes afterwards is followed", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const watched = address(12)
      const { layer: warningLayer, warnings } = warningLog()
      const rereads = () => warnings.filter((warning) => warning.startsWith("chainjobs watch: reading the watchers: "))
      yield* inRuntime(directory, { watchers: { placement: "tasks", rescanEvery: "100 millis" } }, Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        // the watchers' table away for a while: each read of the tables fails until it is back
        yield* sql`ALTER TABLE ${sql(WatchStore.watchersTable)} RENAME TO ${sql("away")}`
        yield* eventually(Effect.sync(() => rereads().length > 0))
        yield* sql`ALTER TABLE ${sql("away")} RENAME TO ${sql(WatchStore.watchersTable)}`
        assert.include(rereads()[0], "no such table: chainjobs_watchers")
        const start = (yield* node((yield* DevChain.DevChain).url).head) + 1
        const row = { ...watcherRow("later", "dev"), processor: Record.name, startBlock: start, confirmedBlock: start - 1 }
        assert.isTrue(yield* WatchStore.insertWatcher(row, [watched]))
        const item = yield* sent(13, watched)
        yield* processed("later", item)
      })).pipe(Effect.provide(warningLayer))
    }).pipe(Effect.scoped), 90_000)

  it.effect("tasks placement: a loop the supervisor refuses to place is a warning, the watcher is added all the same, and the next read of the tables places its loop", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const watched = address(14)
      const { layer: warningLayer, warnings } = warningLog()
      yield* inRuntime(directory, {}, Effect.gen(function*() {
        // the supervisor refuses the first daemon declared (a Tasks that cannot keep it), then keeps them as asked
        const tasks = yield* Tasks.Tasks
        let refusals = 1
        const refusingOnce = Tasks.Tasks.of({
          ...tasks,
          daemon: (kind, payload, options) =>
            refusals-- > 0 ? Effect.fail(new TaskError.UnknownTaskKind({ kind: kind.name })) : tasks.daemon(kind, payload, options)
        })
        const watchers = yield* Watchers.make({ placement: "tasks", rescanEvery: "100 millis", pollInterval: "50 millis" }).pipe(
          Effect.provideService(Tasks.Tasks, refusingOnce),
          Effect.provide(warningLayer)
        )
        yield* watchers.add({ name: "unplaced", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0 })
        assert.deepStrictEqual(warnings, [
          `chainjobs watch: watcher "unplaced": cannot place its loop: no task kind "${Watchers.WatcherLoop.name}" is registered`
        ])
        const item = yield* sent(15, watched)
        yield* processed("unplaced", item)
        const loops = yield* tasks.list({ kind: [Watchers.WatcherLoop.name], limit: 100 })
        assert.deepStrictEqual(loops.items.map((task) => [(task.payload as { watcher: string }).watcher, task.status]), [["unplaced", "running"]])
      }).pipe(Effect.scoped))
    }).pipe(Effect.scoped), 90_000)
})
