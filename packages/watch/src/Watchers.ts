/**
 * The watchers: continuous followers of a chain that turn every item of
 * activity of their accounts and contracts into a processing task, exactly
 * once. `Watchers` adds, pauses, resumes, changes and removes them at run time
 * (`WatchersConfig.watchers` declares some at start); they are persisted in
 * the watch tables (`WatchStore`) and resume from their cursor after a
 * restart.
 *
 * Each active watcher runs one loop. A tick reads the head; checks that the
 * unconfirmed blocks above the confirmation depth still link by parent hash
 * (a change counts as a reorg, observable in `lag`); then, while the cursor is
 * below `head - confirmations`, scans the next range of at most `maxRange`
 * blocks with the adapter's range scan (catch-up at scan speed, not block by
 * block), checks that the range's first block extends the confirmed one, and
 * records its items together with the new cursor in one transaction. A scan
 * in many steps (Sui's catch-up by query) saves its progress beside the
 * cursor after each, only what the step moved or found (`WatchStore.saveScanEntries`); the next tick, in this
 * process or after a restart, scans the same range and resumes from it. Recorded
 * items are then submitted to the watcher's processor kind, whose key is the
 * item's identity (`WatchProcessor`): a submission repeated after a crash
 * joins the task already recorded. Only blocks at confirmation depth are ever
 * recorded, so an item reorganized away before it is never processed, and one
 * re-included in another block is recorded once, under its identity.
 * Submission runs beside the scans during a catch-up (one pass at a time per
 * watcher), and once more at the end of every tick.
 *
 * Lag is `lag(name)` and the gauges `chainjobs_watch_head`,
 * `chainjobs_watch_confirmed_block` and `chainjobs_watch_processed_block`
 * (attributes `watcher`, `chain`), rendered at the service's `/metrics`.
 *
 * Head following polls (`pollInterval`); when the chain's adapter subscribes
 * to new heads (`EvmAdapter.layerWith({ webSockets })`), a pushed head starts
 * the next tick at once, and polling goes on beside it as the fallback.
 *
 * Where the loops run (`WatchersConfig.placement`): `local` (the default)
 * runs them in this process, started and stopped by `add`, `pause`, `resume`
 * and `remove`. `tasks` runs each as a task of the kind `WatcherLoop`, kept
 * running by a daemon of the supervisor (`Tasks.daemon`) that every process
 * declares for every watcher in the store (read again every `rescanEvery`,
 * to learn of watchers added elsewhere). On a cluster's `Tasks`, a daemon is
 * a cluster singleton: each watcher's loop runs on one runner at a time, and
 * another runner restarts it when that one goes. Such a loop reads the stored
 * watcher before each tick and ticks only while it is active; it idles while
 * the watcher is paused, so a watcher resumed anywhere is followed again.
 * `remove` stops the daemon this process declared, and its loop task with it;
 * a watcher removed elsewhere has its daemon stopped at the next read of the
 * tables; added again under its name, it gets a daemon of its own.
 *
 * Lag's head, reorg count and last error are what the loop saw, stored by
 * each tick wherever the loop runs (`WatchStore.saveLoopState`), with the time
 * it wrote them (`observedAt`): every process sharing the tables answers a
 * watcher's lag alike, whichever runs its loop.
 *
 * @since 0.1.0
 */
import { type Schedules, Task, Tasks } from "@chainjobs/tasks"
import { Clock, Context, Duration, Effect, FiberMap, Layer, Metric, Option, Queue, Schedule, Schema, Semaphore, Stream } from "effect"
import type { SqlClient } from "effect/sql"
import { BalanceCache } from "./BalanceCache.ts"
import { type BlockRef, type ChainAdapter, ChainAdapters, type Detected, type ScanProgress } from "./ChainAdapter.ts"
import * as ItemPage from "./ItemPage.ts"
import { DeepReorg, Invalid, UnknownWatcher, WatchError } from "./WatchError.ts"
import * as WatchItem from "./WatchItem.ts"
import * as WatchStore from "./WatchStore.ts"

/** A contract and the event signatures of it to decode. */
export const ContractSpec = Schema.Struct({
  address: Schema.String,
  events: Schema.Array(Schema.String)
})

/** A watcher's definition, as configuration or a request gives it. */
export const WatcherSpec = Schema.Struct({
  /** Unique name: letters, digits, `.`, `_`, `-`; at most 100 characters; not `.` or `..` (a URL resolves them away). */
  name: Schema.String,
  /** The chain, by its configured name. */
  chain: Schema.String,
  /** The name of the task kind (see `WatchProcessor.define`) that processes each item. */
  processor: Schema.String,
  /** Monitored accounts: their native and token transfers are items. */
  accounts: Schema.optionalKey(Schema.Array(Schema.String)),
  /** Monitored contracts: their decoded events are items. */
  contracts: Schema.optionalKey(Schema.Array(ContractSpec)),
  /** Monitored objects (Sui object ids): every change of one (created, mutated, transferred, deleted, wrapped) is an item. */
  objects: Schema.optionalKey(Schema.Array(Schema.String)),
  /** Blocks a block must have above it before its items are recorded. Default: 12. */
  confirmations: Schema.optionalKey(Schema.Int),
  /** The first block to scan. Default: the first block not yet at confirmation depth when the watcher is added. */
  startBlock: Schema.optionalKey(Schema.Int),
  /** Added paused. Default: false. */
  paused: Schema.optionalKey(Schema.Boolean)
})
/** @see WatcherSpec */
export type WatcherSpec = typeof WatcherSpec.Type

/** A watcher as it stands: its definition (defaults filled in), state and confirmed cursor, and its account sets, each from its block on. */
export const WatcherInfo = Schema.Struct({
  name: Schema.String,
  chain: Schema.String,
  processor: Schema.String,
  confirmations: Schema.Int,
  startBlock: Schema.Int,
  status: Schema.Literals(["active", "paused"]),
  contracts: Schema.Array(ContractSpec),
  /** Monitored objects, canonical. */
  objects: Schema.Array(Schema.String),
  accountSets: Schema.Array(WatchStore.AccountSet),
  /** The last block whose items are recorded. */
  confirmedBlock: Schema.Int
})
/** @see WatcherInfo */
export type WatcherInfo = typeof WatcherInfo.Type

/** How far behind a watcher is. */
export const Lag = Schema.Struct({
  watcher: Schema.String,
  /** The head the watcher saw last (null before its first tick). */
  head: Schema.NullOr(Schema.Int),
  /** The last block whose items are recorded. */
  confirmed: Schema.Int,
  /** The last block whose items are all processed (or failed). */
  processed: Schema.Int,
  /** Reorganizations of unconfirmed blocks the watcher's loops have seen, wherever they ran. */
  reorgs: Schema.Int,
  /** The failure of the last tick, if it failed. */
  lastError: Schema.NullOr(Schema.String),
  /** When the loop last wrote head, reorgs and lastError (milliseconds since the epoch), in whichever process it runs; null before its first tick. */
  observedAt: Schema.NullOr(Schema.Int)
})
/** @see Lag */
export type Lag = typeof Lag.Type

/** Settings of the watchers. */
export interface WatchersConfig {
  /** How often a watcher reads the head. Default: 1 second. */
  readonly pollInterval: Duration.Input
  /** The largest range one scan covers. Default: 1000 blocks. */
  readonly maxRange: number
  /** Watchers declared at start: added when missing (one that exists keeps its stored state). */
  readonly watchers: ReadonlyArray<WatcherSpec>
  /** Where the loops run: in this process (`local`), or as `WatcherLoop` tasks kept running by daemons (`tasks`; one per cluster on a cluster's `Tasks`). Default: `local`. */
  readonly placement: "local" | "tasks"
  /** With `tasks` placement, how often the stored watchers are read again to declare the daemons of those added elsewhere. Default: 5 seconds. */
  readonly rescanEvery: Duration.Input
}

/** The defaults of `WatchersConfig`. */
export const defaults: WatchersConfig = {
  pollInterval: "1 second",
  maxRange: 1000,
  watchers: [],
  placement: "local",
  rescanEvery: "5 seconds"
}

/** One declaration of a watcher's daemon by this process (`tasks` placement): its daemon once the supervisor kept it. */
interface Declaration {
  daemon?: Schedules.Daemon
}

/** The task kind of a watcher's loop under `tasks` placement: it runs until interrupted. */
export const WatcherLoop = Task.define("chainjobs.watch.loop", {
  payload: Schema.Struct({ watcher: Schema.String }),
  success: Schema.Void
})

/** How long a watcher waits before subscribing to new heads again after its subscription broke. */
const resubscribeAfter = Duration.seconds(5)

/** The default confirmation depth. */
export const defaultConfirmations = 12

/** The watchers service. */
export class Watchers extends Context.Service<Watchers, {
  /** Adds a watcher (and starts it unless `paused`); `Invalid` for a bad definition or a taken name, nothing written. */
  add(spec: WatcherSpec): Effect.Effect<WatcherInfo, WatchError>
  /** A watcher. */
  get(name: string): Effect.Effect<WatcherInfo, WatchError>
  /** Every watcher, by name. */
  readonly list: Effect.Effect<ReadonlyArray<WatcherInfo>, WatchError>
  /** Stops a watcher's loop; its cursor stays. Submitted items still run. */
  pause(name: string): Effect.Effect<void, WatchError>
  /** Starts a paused watcher again from its cursor. */
  resume(name: string): Effect.Effect<void, WatchError>
  /** Stops and deletes a watcher; the audit of its handed items stays. */
  remove(name: string): Effect.Effect<void, WatchError>
  /**
   * Makes `accounts` the watcher's account set from block `fromBlock` on
   * (default: the block after the confirmed cursor); `Invalid` when that
   * block is already recorded. Returns the block it takes effect at.
   */
  setAccounts(
    name: string,
    accounts: ReadonlyArray<string>,
    options?: { readonly fromBlock?: number | undefined }
  ): Effect.Effect<number, WatchError>
  /** Head, confirmed and processed cursor of a watcher. */
  lag(name: string): Effect.Effect<Lag, WatchError>
  /** The audit of a watcher's items, in chain order, whole (for a program of its own; remote readers get `itemPage`). */
  items(name: string): Effect.Effect<ReadonlyArray<WatchStore.ItemRow>, WatchError>
  /** A page of the audit of a watcher's items (`ItemPage`); `Invalid` for a limit out of range or a cursor it did not give. */
  itemPage(name: string, query?: ItemPage.ItemQuery): Effect.Effect<ItemPage.ItemPage, WatchError>
  /** Runs one tick of a watcher now (its loop keeps running): catches up to the head's confirmation depth and submits. */
  poll(name: string): Effect.Effect<void, WatchError>
}>()("@chainjobs/watch/Watchers") {}

/** A watcher name: what a URL path segment carries as it is (`.` and `..` are not: a URL resolves them away). */
const namePattern = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}$/

/** The head each watcher saw last (attributes `watcher`, `chain`). */
export const headGauge = Metric.gauge("chainjobs_watch_head", { description: "The chain head a watcher saw last" })
/** Each watcher's confirmed cursor: the last block whose items are recorded. */
export const confirmedGauge = Metric.gauge("chainjobs_watch_confirmed_block", {
  description: "The last block whose items a watcher has recorded"
})
/** Each watcher's processed cursor: the last block whose items are all processed. */
export const processedGauge = Metric.gauge("chainjobs_watch_processed_block", {
  description: "The last block whose items a watcher has all processed"
})

/** Per watcher, in memory: its loop's lock and what its ticks saw, until written (`WatchStore.saveLoopState`). */
interface Running {
  readonly lock: Semaphore.Semaphore
  /** Held by the one submission pass of the watcher at a time. */
  readonly submitting: Semaphore.Semaphore
  /** A submission pass is running, or asked to run again once it ends. */
  kicked: "idle" | "running" | "again"
  head: number | null
  /** Reorganizations seen since the last write. */
  newReorgs: number
  lastError: string | null
  /** The unconfirmed blocks seen last, by number. */
  tip: Map<number, BlockRef>
}

const invalid = (watcher: string, detail: string) => new WatchError({ reason: new Invalid({ watcher, detail }) })
const unknown = (watcher: string) => new WatchError({ reason: new UnknownWatcher({ watcher }) })

/**
 * The warning of a failure in watcher `name`'s loop or background submission
 * pass, naming the watcher once: a `WatchError` about the watcher (unknown,
 * refused, a deep reorganization) names it in its own message already.
 */
const warn = (name: string) => (error: { readonly message: string }) =>
  Effect.logWarning(
    `chainjobs watch: ${error instanceof WatchError && "watcher" in error.reason ? "" : `watcher "${name}": `}${error.message}`
  )

/** Accounts in the adapter's spelling, or `Invalid` naming the first bad one. */
const normalizeAccounts = (adapter: ChainAdapter, watcher: string, accounts: ReadonlyArray<string>) => {
  const normalized = new Set<string>()
  for (const account of accounts) {
    const result = adapter.normalizeAccount(account)
    if (!result.ok) return Effect.fail(invalid(watcher, result.detail))
    normalized.add(result.account)
  }
  return Effect.succeed(Array.from(normalized))
}

/** Object ids in the adapter's spelling, or `Invalid`: a bad id, or objects on a chain family without them. */
const normalizeObjects = (adapter: ChainAdapter, watcher: string, objects: ReadonlyArray<string>) => {
  if (objects.length === 0) return Effect.succeed([])
  if (adapter.normalizeObject === undefined) {
    return Effect.fail(invalid(watcher, `chain "${adapter.chain}" (${adapter.family}) has no objects to watch`))
  }
  const normalized = new Set<string>()
  for (const object of objects) {
    const result = adapter.normalizeObject(object)
    if (!result.ok) return Effect.fail(invalid(watcher, result.detail))
    normalized.add(result.object)
  }
  return Effect.succeed(Array.from(normalized))
}

/** Splits `from`–`to` by the account sets in force, each part with its set. */
const segments = (sets: ReadonlyArray<WatchStore.AccountSet>, from: number, to: number) =>
  sets.flatMap((set, index) => {
    const next = sets[index + 1]
    const start = Math.max(from, set.fromBlock)
    const end = Math.min(to, next === undefined ? to : next.fromBlock - 1)
    return start <= end ? [{ from: start, to: end, accounts: set.accounts }] : []
  })

/** Makes the watchers in the current scope; their loops stop when it closes. */
export const make = Effect.fnUntraced(function*(options: Partial<WatchersConfig> = {}) {
  const config = { ...defaults, ...options }
  const pollInterval = Duration.fromInputUnsafe(config.pollInterval)
  const tasks = yield* Tasks.Tasks
  const adapters = yield* ChainAdapters
  const balances = yield* Effect.serviceOption(BalanceCache)
  const context = yield* Effect.context<SqlClient.SqlClient>()
  const fibers = yield* FiberMap.make<string>()
  const scope = yield* Effect.scope
  const running = new Map<string, Running>()
  const encodeItem = Schema.encodeSync(WatchItem.WatchItem)

  yield* WatchStore.migrate

  const stateOf = (name: string): Running => {
    let state = running.get(name)
    if (state === undefined) {
      state = {
        lock: Semaphore.makeUnsafe(1),
        submitting: Semaphore.makeUnsafe(1),
        kicked: "idle",
        head: null,
        newReorgs: 0,
        lastError: null,
        tip: new Map()
      }
      running.set(name, state)
    }
    return state
  }

  const info = (row: WatchStore.WatcherRow) =>
    Effect.map(WatchStore.accountSets(row.name), (accountSets): WatcherInfo => ({
      name: row.name,
      chain: row.chain,
      processor: row.processor,
      confirmations: row.confirmations,
      startBlock: row.startBlock,
      status: row.status,
      contracts: row.contracts,
      objects: row.objects,
      accountSets,
      confirmedBlock: row.confirmedBlock
    }))

  const row = (name: string) =>
    Effect.flatMap(WatchStore.getWatcher(name), Option.match({
      onNone: () => Effect.fail(unknown(name)),
      onSome: Effect.succeed
    }))

  /** Notes reorganizations among the unconfirmed blocks: a known block whose hash changed, or a break in the parent links. */
  const followTip = (state: Running, adapter: ChainAdapter, confirmed: number, head: number) =>
    Effect.gen(function*() {
      const numbers = Array.from({ length: Math.max(0, head - confirmed) }, (_, index) => confirmed + 1 + index)
      if (numbers.length === 0) return
      const refs = yield* adapter.blocks(numbers)
      let reorganized = false
      for (const [index, ref] of refs.entries()) {
        const known = state.tip.get(ref.number)
        if (known !== undefined && known.hash !== ref.hash) reorganized = true
        const previous = refs[index - 1]
        if (previous !== undefined && previous.hash !== ref.parentHash) reorganized = true
      }
      if (reorganized) state.newReorgs++
      state.tip = new Map(refs.map((ref) => [ref.number, ref]))
    })

  /** Submits the watcher's recorded items; a repeated submission joins the task already recorded for the item. */
  const dispatch = (watcher: WatchStore.WatcherRow) =>
    stateOf(watcher.name).submitting.withPermit(Effect.gen(function*() {
      while (true) {
        const waiting = yield* WatchStore.itemsIn(watcher.name, "detected", 500)
        if (waiting.length === 0) return
        const submitted = yield* Effect.forEach(waiting, (row) =>
          tasks.submitEncoded(watcher.processor, encodeItem(row.item), { onConflict: "join" }).pipe(
            Effect.map((handle) => ({ id: row.id, taskId: handle.id }))
          ), { concurrency: 64 }).pipe(
            Effect.mapError((error) => invalid(watcher.name, `submitting to "${watcher.processor}": ${error.message}`))
          )
        yield* WatchStore.markSubmitted(watcher.name, submitted)
      }
    }))

  /**
   * Starts a submission pass in the background, so that a catch-up goes on
   * scanning while the items of the ranges already recorded are submitted; a
   * kick during a pass makes it run once more.
   */
  const kick = (watcher: WatchStore.WatcherRow) =>
    Effect.suspend(() => {
      const state = stateOf(watcher.name)
      if (state.kicked !== "idle") {
        state.kicked = "again"
        return Effect.void
      }
      state.kicked = "running"
      const pass: Effect.Effect<void> = dispatch(watcher).pipe(
        Effect.catch(warn(watcher.name)),
        Effect.provideContext(context),
        Effect.andThen(Effect.suspend(() => {
          if (state.kicked === "again") {
            state.kicked = "running"
            return pass
          }
          state.kicked = "idle"
          return Effect.void
        }))
      )
      return Effect.asVoid(Effect.forkIn(pass, scope))
    })

  const gauges = (watcher: WatchStore.WatcherRow, head: number) =>
    Effect.gen(function*() {
      const attributes = { watcher: watcher.name, chain: watcher.chain }
      const processed = yield* WatchStore.processedBlock(watcher)
      yield* Metric.update(Metric.withAttributes(headGauge, attributes), head)
      yield* Metric.update(Metric.withAttributes(confirmedGauge, attributes), watcher.confirmedBlock)
      yield* Metric.update(Metric.withAttributes(processedGauge, attributes), processed)
    })

  /** Records the outcome of items whose task ended without recording it (timed out, lost, interrupted, deleted). */
  const settle = (watcher: WatchStore.WatcherRow) =>
    Effect.gen(function*() {
      const handed = yield* WatchStore.itemsIn(watcher.name, "submitted", 100)
      const at = yield* Clock.currentTimeMillis
      yield* Effect.forEach(handed, (row) =>
        tasks.get(row.taskId!).pipe(
          Effect.flatMap((task) => {
            if (task.status === "completed") {
              return WatchStore.markFinished(watcher.name, row.id, { status: "processed", outcome: task.result, error: null, at })
            }
            if (task.status === "failed" || task.status === "interrupted") {
              return WatchStore.markFinished(watcher.name, row.id, {
                status: "failed",
                outcome: null,
                error: task.errorMessage ?? `task ${task.status}${task.reason === null ? "" : ` (${task.reason})`}`,
                at
              })
            }
            return Effect.void
          }),
          Effect.catchTag("TaskNotFound", () =>
            WatchStore.markFinished(watcher.name, row.id, { status: "failed", outcome: null, error: "its task record is gone", at })),
          Effect.catchTag("TaskStoreError", () => Effect.void)
        ), { discard: true, concurrency: 8 })
    })

  /**
   * Writes what the watcher's ticks saw for every process to read in `lag`; a failed write is a warning, its
   * reorganizations kept for the next.
   */
  const saveSeen = (name: string) =>
    Effect.gen(function*() {
      const state = stateOf(name)
      const newReorgs = state.newReorgs
      yield* WatchStore.saveLoopState(name, { head: state.head, newReorgs, lastError: state.lastError, at: yield* Clock.currentTimeMillis })
      state.newReorgs -= newReorgs
    }).pipe(Effect.catch(warn(name)))

  /** One tick: follow the head, record every confirmed range up to depth, submit, settle; then what it saw is written. */
  const tick = (name: string) =>
    Effect.gen(function*() {
      const state = stateOf(name)
      let watcher = yield* row(name)
      const adapter = yield* adapters.adapter(watcher.chain)
      const head = yield* adapter.head
      state.head = head
      const target = head - watcher.confirmations
      yield* followTip(state, adapter, Math.max(target, watcher.confirmedBlock), head)
      // a catch-up may take long: the head it goes to is written before it, for `lag` to show meanwhile
      if (watcher.confirmedBlock < target) yield* saveSeen(name)
      while (watcher.confirmedBlock < target) {
        const from = watcher.confirmedBlock + 1
        // an interrupted scan of this range resumes where it stopped (its range kept, though the head moved on)
        const saved = yield* WatchStore.scanState(name, watcher.confirmedBlock)
        const to = saved !== null && saved.from === from && saved.to >= from && saved.to <= target ? saved.to : Math.min(target, from + config.maxRange - 1)
        const resumed = saved !== null && saved.from === from && saved.to === to ? saved.parts : undefined
        const sets = yield* WatchStore.accountSets(name)
        const found: Array<Detected> = []
        const after = watcher.confirmedBlock
        const keep = Semaphore.makeUnsafe(1)
        // the first save of a range not resumed writes the range and drops what an earlier scan saved
        let fresh = resumed === undefined
        for (const part of segments(sets, from, to)) {
          const progress: ScanProgress = {
            saved: resumed?.[String(part.from)] ?? new Map(),
            save: (entries) =>
              keep.withPermit(Effect.suspend(() => {
                const range = fresh ? { from, to, sets } : undefined
                return WatchStore.saveScanEntries(name, after, part.from, entries, range).pipe(
                  Effect.tap(() => Effect.sync(() => void (fresh = false)))
                )
              })).pipe(Effect.provideContext(context))
          }
          found.push(...yield* adapter.scan({ accounts: part.accounts, contracts: watcher.contracts, objects: watcher.objects }, part.from, part.to, progress))
        }
        const [first, last] = yield* adapter.blocks(from === to ? [from] : [from, to]).pipe(
          Effect.map((refs) => [refs[0]!, refs[refs.length - 1]!] as const)
        )
        if (watcher.confirmedHash !== null && first.parentHash !== watcher.confirmedHash) {
          return yield* new WatchError({
            reason: new DeepReorg({ watcher: name, block: from, expectedParent: watcher.confirmedHash, foundParent: first.parentHash })
          })
        }
        const items = found.map((item) => new WatchItem.WatchItem({ ...item, watcher: name }))
        const now = yield* Clock.currentTimeMillis
        const moved = yield* WatchStore.ingest(name, watcher.confirmedBlock, to, last.hash, items, now, sets)
        if (!moved) return
        watcher = { ...watcher, confirmedBlock: to, confirmedHash: last.hash }
        if (Option.isSome(balances)) yield* balances.value.observe(watcher.chain, items)
        if (items.length > 0) yield* kick(watcher)
      }
      yield* dispatch(watcher)
      yield* settle(watcher)
      yield* gauges(watcher, head)
      state.lastError = null
    }).pipe(
      Effect.tapError((error) => Effect.sync(() => void (stateOf(name).lastError = error.message))),
      Effect.ensuring(saveSeen(name)),
      stateOf(name).lock.withPermit
    )

  /**
   * A watcher's loop: a tick, then the next one after `pollInterval` or as
   * soon as the chain pushes a new head, when its adapter subscribes to heads
   * (a broken subscription is opened again after a while; polling goes on
   * meanwhile).
   */
  const loop = (name: string) =>
    Effect.gen(function*() {
      const wake = yield* Queue.sliding<void>(1)
      const adapter = yield* Effect.flatMap(row(name), (watcher) => adapters.adapter(watcher.chain)).pipe(Effect.option)
      const pushed = Option.isSome(adapter) ? adapter.value.newHeads : undefined
      if (pushed !== undefined) {
        yield* pushed.pipe(
          Stream.runForEach(() => Queue.offer(wake, undefined)),
          Effect.catch(warn(name)),
          Effect.andThen(Effect.sleep(resubscribeAfter)),
          Effect.forever,
          Effect.forkScoped
        )
      }
      while (true) {
        yield* Effect.catch(placed ? tickWhileActive(name) : tick(name), warn(name))
        yield* Effect.raceFirst(Effect.sleep(pollInterval), Queue.take(wake))
      }
    }).pipe(Effect.scoped, Effect.provideContext(context))

  /** A tick if the stored watcher is active (placed loops outlive pauses and removals made elsewhere). */
  const tickWhileActive = (name: string) =>
    Effect.flatMap(WatchStore.getWatcher(name), (watcher) =>
      Option.isSome(watcher) && watcher.value.status === "active" ? tick(name) : Effect.void)

  const placed = config.placement === "tasks"
  /**
   * The daemons this process declared, by watcher name: one declaration each
   * (its daemon set once the supervisor has kept it), so that a removal can
   * stop it, and a declaration that a removal overtook stops its own daemon.
   */
  const declared = new Map<string, Declaration>()

  /**
   * Starts the watcher's loop here, or (placed) declares the daemon keeping its
   * loop task running; a declaration the supervisor refuses is a warning, and
   * the next read of the tables declares it again.
   */
  const start = (name: string): Effect.Effect<void> => {
    if (!placed) return FiberMap.run(fibers, name, loop(name), { onlyIfMissing: true }).pipe(Effect.asVoid)
    if (declared.has(name)) return Effect.void
    const declaration: Declaration = {}
    declared.set(name, declaration)
    return tasks.daemon(WatcherLoop, { watcher: name }, { restart: Schedule.spaced(pollInterval) }).pipe(
      Effect.flatMap((daemon) => {
        if (declared.get(name) !== declaration) return daemon.stop
        declaration.daemon = daemon
        return Effect.void
      }),
      Effect.catch((error) => {
        if (declared.get(name) === declaration) declared.delete(name)
        return Effect.logWarning(`chainjobs watch: watcher "${name}": cannot place its loop: ${error.message}`)
      })
    )
  }

  /**
   * (Placed) Stops the daemon this process declared for the watcher, which
   * interrupts its loop task and waits until it has stopped (a stop already
   * under way is waited for as well); then the name may be declared again.
   */
  const unplace = (name: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const declaration = declared.get(name)
      if (declaration === undefined) return Effect.void
      const forget = Effect.sync(() => {
        if (declared.get(name) === declaration) declared.delete(name)
      })
      return declaration.daemon === undefined ? forget : Effect.andThen(declaration.daemon.stop, forget)
    })

  /**
   * (Placed) Stops the daemons of the watchers removed elsewhere: those whose
   * declaration made before the read of the stored names `stored` is still
   * current and whose name is not among them (one declared meanwhile may name
   * a watcher added since).
   */
  const stopRemoved = (before: ReadonlyMap<string, Declaration>, stored: ReadonlySet<string>) =>
    Effect.forEach(
      Array.from(before).filter(([name, declaration]) => !stored.has(name) && declared.get(name) === declaration),
      ([name]) => unplace(name),
      { discard: true }
    )

  if (placed) {
    yield* tasks.register(WatcherLoop, ({ watcher }) => Effect.andThen(loop(watcher), Effect.never), Context.empty())
  }

  const add = (spec: WatcherSpec) =>
    Effect.gen(function*() {
      if (!namePattern.test(spec.name)) {
        return yield* invalid(spec.name, "a name is 1 to 100 letters, digits, '.', '_' or '-', and not '.' or '..'")
      }
      const confirmations = spec.confirmations ?? defaultConfirmations
      if (!Number.isSafeInteger(confirmations) || confirmations < 0) {
        return yield* invalid(spec.name, `confirmations must be a whole number ≥ 0, not ${confirmations}`)
      }
      if (spec.processor.length === 0) return yield* invalid(spec.name, "no processor task kind named")
      const adapter = yield* adapters.adapter(spec.chain).pipe(
        Effect.mapError(() => invalid(spec.name, `unknown chain "${spec.chain}"`))
      )
      const accounts = yield* normalizeAccounts(adapter, spec.name, spec.accounts ?? [])
      const contracts = (spec.contracts ?? []).map((contract) => ({ address: contract.address.toLowerCase(), events: contract.events }))
      for (const contract of contracts) {
        const problem = adapter.checkContract(contract)
        if (problem !== undefined) return yield* invalid(spec.name, problem)
      }
      const objects = yield* normalizeObjects(adapter, spec.name, spec.objects ?? [])
      if (accounts.length === 0 && contracts.length === 0 && objects.length === 0) {
        return yield* invalid(spec.name, "it watches no account, no contract and no object")
      }
      if (spec.startBlock !== undefined && (!Number.isSafeInteger(spec.startBlock) || spec.startBlock < 0)) {
        return yield* invalid(spec.name, `startBlock must be a block number ≥ 0, not ${spec.startBlock}`)
      }
      const startBlock = spec.startBlock ?? Math.max(0, (yield* adapter.head) - confirmations + 1)
      const watcher: WatchStore.WatcherRow = {
        name: spec.name,
        chain: spec.chain,
        processor: spec.processor,
        confirmations,
        startBlock,
        status: spec.paused === true ? "paused" : "active",
        contracts,
        objects,
        confirmedBlock: startBlock - 1,
        confirmedHash: null,
        createdAt: yield* Clock.currentTimeMillis
      }
      const inserted = yield* WatchStore.insertWatcher(watcher, accounts)
      if (!inserted) return yield* invalid(spec.name, "a watcher of this name exists")
      if (watcher.status === "active") yield* start(watcher.name)
      return yield* info(watcher)
    }).pipe(Effect.provideContext(context))

  const setAccounts = (name: string, accounts: ReadonlyArray<string>, options?: { readonly fromBlock?: number | undefined }) =>
    Effect.gen(function*() {
      const watcher = yield* row(name)
      const adapter = yield* adapters.adapter(watcher.chain)
      const normalized = yield* normalizeAccounts(adapter, name, accounts)
      if (normalized.length === 0 && watcher.contracts.length === 0 && watcher.objects.length === 0) {
        return yield* invalid(name, "it would watch no account, no contract and no object")
      }
      // under the loop's lock, so that the cursor cannot pass the block while the set is written
      return yield* stateOf(name).lock.withPermit(Effect.gen(function*() {
        const current = yield* row(name)
        const fromBlock = options?.fromBlock ?? current.confirmedBlock + 1
        if (!Number.isSafeInteger(fromBlock) || fromBlock <= current.confirmedBlock) {
          return yield* invalid(name, `block ${fromBlock} is already recorded (the cursor is at ${current.confirmedBlock})`)
        }
        const written = yield* WatchStore.putAccountSet(name, fromBlock, normalized)
        if (!written) return yield* invalid(name, `block ${fromBlock} is already recorded`)
        return fromBlock
      }))
    }).pipe(Effect.provideContext(context))

  const service = Watchers.of({
    add,
    get: (name) => Effect.flatMap(row(name), info).pipe(Effect.provideContext(context)),
    list: Effect.flatMap(WatchStore.listWatchers, Effect.forEach(info)).pipe(Effect.provideContext(context)),
    pause: (name) =>
      Effect.gen(function*() {
        if (!(yield* WatchStore.setStatus(name, "paused"))) return yield* unknown(name)
        yield* FiberMap.remove(fibers, name)
      }).pipe(Effect.provideContext(context)),
    resume: (name) =>
      Effect.gen(function*() {
        if (!(yield* WatchStore.setStatus(name, "active"))) return yield* unknown(name)
        yield* start(name)
      }).pipe(Effect.provideContext(context)),
    remove: (name) =>
      Effect.gen(function*() {
        yield* FiberMap.remove(fibers, name)
        const deleted = yield* WatchStore.deleteWatcher(name)
        // after the delete, so that no read of the tables declares its daemon again
        yield* unplace(name)
        if (!deleted) return yield* unknown(name)
        running.delete(name)
      }).pipe(Effect.provideContext(context)),
    setAccounts,
    lag: (name) =>
      Effect.gen(function*() {
        const watcher = yield* row(name)
        const processed = yield* WatchStore.processedBlock(watcher)
        const seen = Option.getOrElse(yield* WatchStore.loopState(name), (): WatchStore.LoopState => ({
          head: null,
          reorgs: 0,
          lastError: null,
          observedAt: null
        }))
        return {
          watcher: name,
          head: seen.head,
          confirmed: watcher.confirmedBlock,
          processed,
          reorgs: seen.reorgs,
          lastError: seen.lastError,
          observedAt: seen.observedAt
        }
      }).pipe(Effect.provideContext(context)),
    items: (name) => Effect.andThen(row(name), WatchStore.items(name)).pipe(Effect.provideContext(context)),
    itemPage: (name, query = {}) =>
      Effect.gen(function*() {
        const refused = ItemPage.refusal(query)
        if (refused !== undefined) return yield* invalid(name, refused)
        yield* row(name)
        const limit = query.limit ?? ItemPage.defaultLimit
        const rows = yield* WatchStore.itemsAfter(name, query.cursor === undefined ? undefined : ItemPage.after(query.cursor), limit + 1)
        const items = rows.slice(0, limit)
        return rows.length > limit ? { items, next: ItemPage.cursorAfter(items[items.length - 1]!) } : { items }
      }).pipe(Effect.provideContext(context)),
    poll: (name) => tick(name).pipe(Effect.provideContext(context))
  })

  for (const spec of config.watchers) {
    const existing = yield* WatchStore.getWatcher(spec.name)
    if (Option.isNone(existing)) {
      // another process declaring it may add it first: then it exists, as declared
      yield* add(spec).pipe(Effect.catch((error) =>
        Effect.flatMap(WatchStore.getWatcher(spec.name), (added) => Option.isSome(added) ? Effect.void : Effect.fail(error))
      ))
    }
  }
  for (const watcher of yield* WatchStore.listWatchers) {
    if (placed || watcher.status === "active") yield* start(watcher.name)
  }
  if (placed) {
    // watchers added by other processes sharing the tables get their daemons declared here too, and those they
    // removed have theirs stopped
    yield* Effect.suspend(() => {
      const before = new Map(declared)
      return Effect.flatMap(WatchStore.listWatchers, (watchers) =>
        Effect.andThen(
          stopRemoved(before, new Set(watchers.map((watcher) => watcher.name))),
          Effect.forEach(watchers, (watcher) => start(watcher.name), { discard: true })
        ))
    }).pipe(
      Effect.catch((error) => Effect.logWarning(`chainjobs watch: reading the watchers: ${error.message}`)),
      Effect.provideContext(context),
      Effect.repeat(Schedule.spaced(config.rescanEvery)),
      Effect.forkScoped
    )
  }
  return service
})

/** The watchers, on the `SqlClient` (watch tables), the supervisor and the chain adapters provided; a `BalanceCache`, when provided too, is told of every item. */
export const layer = (
  options: Partial<WatchersConfig> = {}
): Layer.Layer<Watchers, WatchError, SqlClient.SqlClient | Tasks.Tasks | ChainAdapters> =>
  Layer.effect(Watchers, make(options))
