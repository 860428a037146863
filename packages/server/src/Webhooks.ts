/**
 * Webhooks: a submission may name a URL (`WebhookTarget` says which); once
 * its task reaches a terminal status the service POSTs the task's final
 * record there as JSON (the REST record, `RestApi.TaskRecord`), signed
 * (`WebhookSignature`). A 2xx answer acknowledges it; anything else (another
 * status, a redirect, no answer within `requestTimeout`) is retried after
 * `retryBase`, doubling up to `retryMax`, until `maxAttempts` attempts have
 * been made.
 *
 * Durable: webhooks, the final record to send and every attempt live in the
 * webhook tables (`WebhookStore`), on the service's database. The record is
 * written there when the task is seen to finish (from the supervisor's
 * changes, and at start for the tasks that finished while the service was
 * down), and the dispatcher sends what is due, so a restart resumes the
 * deliveries it interrupted. Delivery is at least once: a receiver that
 * acknowledged a `Chainjobs-Delivery` id ignores it when it comes again.
 *
 * A webhook is usually registered before its task is recorded (under the id
 * the task gets), so one may wait for a task that never comes (its
 * submission failed): nothing is sent for it. The start's sweep, and the
 * dispatcher once such a webhook has waited `orphanWaitMillis`, give up
 * the waiting webhooks of tasks that do not exist; one whose task is
 * recorded and finishes after all is delivered all the same.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Layer, Option, Queue, Redacted, Stream } from "effect"
import type { SqlClient } from "effect/sql"
import { SubmitWebhooks, TaskError, TaskInfo, Tasks } from "@chainjobs/tasks"
import { randomUUID } from "node:crypto"
import { toRecord } from "./RestApi.ts"
import * as WebhookSignature from "./WebhookSignature.ts"
import * as WebhookStore from "./WebhookStore.ts"
import * as WebhookTarget from "./WebhookTarget.ts"

/** How webhooks are signed, which targets are accepted and how deliveries are retried. */
export interface WebhookSettings {
  /** The HMAC-SHA256 key deliveries are signed with. None: submissions naming a webhook are refused. */
  readonly secret: Option.Option<Redacted.Redacted<string>>
  /** Private hosts (`127.0.0.1`, `host:port`) webhooks may call anyway. Default: none. */
  readonly allowHosts: ReadonlyArray<string>
  /** Attempts made before a delivery fails for good. Default: 10. */
  readonly maxAttempts: number
  /** The wait after the first failed attempt, doubled after each further one. Default: 1 second. */
  readonly retryBase: Duration.Duration
  /** The longest wait between attempts. Default: 10 minutes. */
  readonly retryMax: Duration.Duration
  /** How long a receiver may take to answer. Default: 10 seconds. */
  readonly requestTimeout: Duration.Duration
}

/** The defaults of the webhook settings: no secret, so no webhooks. */
export const defaults: WebhookSettings = {
  secret: Option.none(),
  allowHosts: [],
  maxAttempts: 10,
  retryBase: Duration.seconds(1),
  retryMax: Duration.minutes(10),
  requestTimeout: Duration.seconds(10)
}

/** The service's webhooks: checking a URL, registering a task's, reading its deliveries. */
export class Webhooks extends Context.Service<Webhooks, {
  /** The URL to call, or the typed refusal of a URL the service will not call. */
  check(url: string): Effect.Effect<URL, WebhookTarget.WebhookRefused>
  /** Registers a webhook of a task, submitted or about to be under this id; returns the delivery's id. */
  register(taskId: string, url: URL): Effect.Effect<string, TaskError.TaskStoreError>
  /** Gives up the waiting webhooks of a task whose submission failed: nothing is sent for them. */
  abandon(taskId: string): Effect.Effect<void, TaskError.TaskStoreError>
  /** A task's webhooks, with their state and attempts. */
  deliveries(taskId: string): Effect.Effect<ReadonlyArray<WebhookStore.Delivery>, TaskError.TaskStoreError>
}>()("@chainjobs/server/Webhooks") {}

/** The wait before attempt `attempt + 1`, after attempt `attempt` failed. */
export const backoff = (settings: WebhookSettings, attempt: number): number =>
  Math.min(Duration.toMillis(settings.retryBase) * 2 ** (attempt - 1), Duration.toMillis(settings.retryMax))

/** Due deliveries sent per round, and at once. */
const batchSize = 32
const concurrency = 8
/** The longest the dispatcher sleeps without looking at the table (another process may have written to it). */
const idleLookMillis = 30_000
/**
 * How long a webhook waits for its task to be recorded before the dispatcher looks whether the task exists, and gives
 * the webhook up if not: far longer than a submission takes between registering its webhook and recording its task.
 */
export const orphanWaitMillis = 60_000
/** How long past an attempt's time limit a taken webhook stays with its taker before another dispatcher may take it. */
const claimMarginMillis = 30_000

/**
 * The webhooks over the supervisor and the `SqlClient` of the context: the
 * tables migrated, the supervisor's changes followed, the waiting webhooks
 * of tasks that finished meanwhile made due, and the dispatcher running
 * until the layer's scope closes (an attempt it interrupts is made again).
 */
export const layer = (
  settings: WebhookSettings
): Layer.Layer<Webhooks, TaskError.TaskStoreError, Tasks.Tasks | SqlClient.SqlClient> =>
  Layer.effect(
    Webhooks,
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const context = yield* Effect.context<SqlClient.SqlClient>()
      const db = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) => Effect.provideContext(effect, context)
      yield* db(WebhookStore.migrate)
      const signing = Option.isSome(settings.secret)
      const rules: WebhookTarget.TargetRules = { signing, allowHosts: settings.allowHosts }
      const secret = Option.match(settings.secret, { onNone: () => "", onSome: Redacted.value })
      const wake = yield* Queue.sliding<void>(1)
      /**
       * Without a secret no submission may name a webhook (`check` refuses it), so the only webhooks that can wait
       * for a task are those the table held at start (from a run with a secret) and any `register`ed directly: only
       * their tasks' finishes are recorded, where every finished task cost an UPDATE and its record's JSON before.
       */
      // An id stays until its task is seen to finish: one deleted first (or never finishing) stays for the process's
      // life, bounded by such webhooks (the start's sweep and direct registrations, without a secret).
      const followed = new Set<string>()
      const follows = (taskId: string) => signing || followed.has(taskId)

      /** Makes the waiting webhooks of a finished task due, with its final record. */
      const finished = (info: TaskInfo.TaskInfo) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => db(WebhookStore.markDue(info.id, JSON.stringify(toRecord(info)), now))).pipe(
          Effect.flatMap((marked) => marked > 0 ? Queue.offer(wake, undefined) : Effect.void)
        )

      const logged = <A, E>(what: string) => (effect: Effect.Effect<A, E>) =>
        Effect.catchCause(effect, (cause) => Effect.logWarning(`webhooks: ${what} failed`, cause))

      // Follow the supervisor's changes before looking at the table, so no finish falls between the two.
      yield* Stream.runForEach(
        tasks.changes,
        (info) => {
          if (!TaskInfo.isTerminal(info.status) || !follows(info.id)) return Effect.void
          followed.delete(info.id)
          return logged("recording a finished task")(finished(info))
        }
      ).pipe(Effect.forkScoped({ startImmediately: true }))

      /** Makes the webhooks of a finished task due, and gives up those of a task that does not exist. */
      const settle = (taskId: string) =>
        tasks.get(taskId).pipe(
          Effect.flatMap((info) => TaskInfo.isTerminal(info.status) ? finished(info) : Effect.void),
          Effect.catchTag("TaskNotFound", () => db(WebhookStore.abandon(taskId)))
        )

      /** Webhooks registered up to this time have been settled; those after it are looked at once they are old. */
      let settledUpTo = (yield* Clock.currentTimeMillis) - orphanWaitMillis
      const sweep = Effect.gen(function*() {
        for (const taskId of yield* db(WebhookStore.waitingTasks())) {
          // Followed before it is looked at: a finish in between is recorded by one or the other (twice is once).
          if (!signing) followed.add(taskId)
          yield* settle(taskId)
        }
      })
      yield* sweep

      /** One attempt to deliver, recorded with its outcome. */
      const deliver = (webhook: WebhookStore.WebhookRow) =>
        Effect.gen(function*() {
          const attempt = webhook.attempts + 1
          const startedAt = yield* Clock.currentTimeMillis
          const body = webhook.body ?? "null"
          const answer = yield* Effect.tryPromise({
            try: async (signal) => {
              const response = await fetch(webhook.url, {
                method: "POST",
                redirect: "manual",
                signal,
                headers: {
                  "content-type": "application/json",
                  "user-agent": "chainjobs-webhooks",
                  [WebhookSignature.signatureHeader]: WebhookSignature.sign(secret, Math.floor(startedAt / 1000), body),
                  [WebhookSignature.deliveryHeader]: webhook.id,
                  [WebhookSignature.attemptHeader]: String(attempt),
                  [WebhookSignature.taskHeader]: webhook.taskId
                },
                body
              })
              // The answer's body is not read: only its status counts.
              await response.body?.cancel()
              return response.status
            },
            catch: (cause) => String((cause as Error)?.message ?? cause)
          }).pipe(
            Effect.timeoutOrElse({
              duration: settings.requestTimeout,
              orElse: () => Effect.fail(`no answer within ${Duration.format(settings.requestTimeout)}`)
            }),
            Effect.result
          )
          const endedAt = yield* Clock.currentTimeMillis
          const status = answer._tag === "Success" ? answer.success : null
          const delivered = status !== null && status >= 200 && status < 300
          const error = delivered ? null : status === null ? (answer as { failure: string }).failure : `HTTP ${status}`
          const outcome = delivered
            ? { state: "delivered" as const, nextAttemptAt: null }
            : attempt >= settings.maxAttempts
            ? { state: "failed" as const, nextAttemptAt: null }
            : { state: "due" as const, nextAttemptAt: endedAt + backoff(settings, attempt) }
          yield* db(WebhookStore.recordAttempt(webhook, {
            attempt,
            at: startedAt,
            status,
            error,
            durationMillis: endedAt - startedAt
          }, outcome))
        })

      /**
       * The webhooks this dispatcher took whose attempt is not recorded yet (the record failed): the next round sends
       * them again, taken anew while they are still as this dispatcher left them.
       */
      const taken = new Map<string, WebhookStore.WebhookRow>()

      /**
       * Sends a due webhook once this dispatcher has taken it (`WebhookStore.claim`): every runner on one database
       * reads the same due rows, and each is sent by the one that takes it. Taken for the attempt's time limit and
       * `claimMarginMillis`, so that one whose taker died is sent by another after that; an attempt interrupted (the
       * service stopping) gives it back, due when it was taken.
       */
      const deliverClaimed = (webhook: WebhookStore.WebhookRow) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const until = now + Duration.toMillis(settings.requestTimeout) + claimMarginMillis
          if (!(yield* db(WebhookStore.claim(webhook, until)))) return void taken.delete(webhook.id)
          const held = { ...webhook, nextAttemptAt: until }
          taken.set(webhook.id, held)
          yield* deliver(webhook).pipe(
            Effect.onInterrupt(() => Effect.ignore(db(WebhookStore.claim(held, now))))
          )
          taken.delete(webhook.id)
        })

      /**
       * Settles the waiting webhooks that have reached `orphanWaitMillis` since the last look (each once): one whose
       * submission failed after registering it, or whose process died in between, is given up, not kept for ever.
       */
      const settleOld = Effect.gen(function*() {
        const upTo = (yield* Clock.currentTimeMillis) - orphanWaitMillis
        if (upTo - settledUpTo < 1000) return
        for (const taskId of yield* db(WebhookStore.waitingTasks({ after: settledUpTo, upTo }))) yield* settle(taskId)
        settledUpTo = upTo
      })

      /** One round: what is due now, then a sleep until the next is due or a task finishes. */
      const round = Effect.gen(function*() {
        yield* settleOld
        const batch = yield* db(WebhookStore.due(yield* Clock.currentTimeMillis, batchSize))
        const again = [...taken.values()].filter((held) => !batch.some((row) => row.id === held.id))
        yield* Effect.forEach([...again, ...batch], deliverClaimed, { concurrency, discard: true })
        if (batch.length === batchSize) return
        const next = yield* db(WebhookStore.nextDue)
        const now = yield* Clock.currentTimeMillis
        const wait = Option.match(next, { onNone: () => idleLookMillis, onSome: (at) => Math.max(0, at - now) })
        if (wait > 0) yield* Effect.timeoutOption(Queue.take(wake), Duration.millis(Math.min(wait, idleLookMillis)))
      })

      yield* round.pipe(
        Effect.catchCause((cause) => Effect.andThen(Effect.logWarning("webhooks: a delivery round failed", cause), Effect.sleep("1 second"))),
        Effect.forever,
        Effect.forkScoped({ startImmediately: true })
      )

      return Webhooks.of({
        check: (url) => {
          const checked = WebhookTarget.check(rules, url)
          return checked instanceof URL ? Effect.succeed(checked) : Effect.fail(checked)
        },
        register: (taskId, url) =>
          Effect.gen(function*() {
            const id = randomUUID()
            // Followed before it is recorded, as the sweep does.
            if (!signing) followed.add(taskId)
            yield* db(WebhookStore.insert({ id, taskId, url: url.href, createdAt: yield* Clock.currentTimeMillis }))
            // The task may have finished before its webhook was recorded: then it is due at once.
            const info = yield* Effect.option(tasks.get(taskId))
            if (Option.isSome(info) && TaskInfo.isTerminal(info.value.status)) yield* finished(info.value)
            return id
          }),
        abandon: (taskId) => db(WebhookStore.abandon(taskId)),
        deliveries: (taskId) => db(WebhookStore.ofTask(taskId))
      })
    })
  )

/**
 * The webhooks as the access rules use them (`SubmitWebhooks`): every
 * transport's submission (REST `?webhook=`, RPC `Submit`'s `webhook`, the
 * CLI's `--webhook`) checks and registers its webhook here.
 */
export const layerSubmit: Layer.Layer<never, never, Webhooks> = Layer.effect(
  SubmitWebhooks.SubmitWebhooks,
  Webhooks.useSync((webhooks) => ({
    check: webhooks.check,
    register: (taskId: string, url: URL) => Effect.asVoid(webhooks.register(taskId, url)),
    abandon: webhooks.abandon
  }))
)
