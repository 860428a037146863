/**
 * The stored schedules' part of the `chainjobs` command line, over the
 * service's REST API (`/api/schedules`, admins only) with the shared `--url`
 * and `--token`:
 *
 * ```
 * chainjobs schedules list [--json]
 * chainjobs schedules set <name> --kind <kind> [--payload '{…}'] (--cron '<expr>' | --every-millis <n> | --daemon)
 * chainjobs schedules remove <name>
 * ```
 *
 * It also gives `serve` its `--schedules` flag (`ScheduleSettings`).
 *
 * @since 0.1.0
 */
import { Console, Effect, Option, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import type { ScheduleStore } from "@chainjobs/tasks"
import * as ApiClientFailure from "./ApiClientFailure.ts"
import * as SchedulesApi from "./SchedulesApi.ts"
import { variable } from "./ScheduleSettings.ts"
import * as CliRequests from "./CliRequests.ts"

/** A schedules command failed: the server refused it, could not be reached, or the command's input was wrong. */
export class ScheduleCliError extends Schema.TaggedError<ScheduleCliError>("@chainjobs/server/ScheduleCliError")(
  "ScheduleCliError",
  { detail: Schema.String }
) {
  override get message(): string {
    return this.detail
  }
}

/** `serve`'s schedules flag, made with `serve`'s own flag maker (flag name, variable, description). */
export const serveSettings = <F>(setting: (name: string, variable: string, description: string) => F) => ({
  schedules: setting("schedules", variable, "Schedules and daemons declared at start, as JSON: [{name, kind, payload, trigger}]")
})

/** Where the server is and who calls: the command line's shared flags. */
export interface Target {
  readonly url: string
  readonly token: string
  /** The time limit of a request, in seconds (`--timeout`; see `CliRequests`). */
  readonly timeout: number
}

/** A trigger as a person reads it: `cron <expr>`, `every <n> ms` or `daemon`. */
export const describeTrigger = (trigger: ScheduleStore.Trigger): string =>
  trigger._tag === "Cron" ? `cron ${trigger.cron}` : trigger._tag === "Interval" ? `every ${trigger.millis} ms` : "daemon"

/** A stored schedule on one line: name, kind, trigger, payload. */
export const describeSchedule = (schedule: ScheduleStore.StoredSchedule): string =>
  [schedule.name.padEnd(24), schedule.kind.padEnd(20), describeTrigger(schedule.trigger).padEnd(24), JSON.stringify(schedule.payload)]
    .join("  ")

/** The refusal or transport failure of a call, as the command's error: a refusal the API declares by its tag and message. */
const refused = (url: string) => (error: unknown) => {
  const tagged = error as { readonly _tag?: string; readonly message?: string }
  return new ScheduleCliError({ detail: ApiClientFailure.transportDetail(url, error) ?? `${tagged._tag ?? "refused"}: ${tagged.message ?? ""}` })
}

/** The `schedules` command, reading the shared flags from `target`. */
export const commands = <R>(target: Effect.Effect<Target, never, R>) => {
  /** Runs `f` with the typed client of the target server; every failure a `ScheduleCliError`. */
  const run = <A, E>(f: (client: Effect.Success<ReturnType<typeof SchedulesApi.client>>) => Effect.Effect<A, E>) =>
    Effect.flatMap(target, ({ timeout, token, url }) =>
      Effect.flatMap(SchedulesApi.client(url, token), (client) => f(client)).pipe(
        Effect.mapError(refused(url)),
        Effect.provide(CliRequests.layerHttp({ url, seconds: timeout }))
      ))

  const list = Command.make("list", {
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON, for scripts"), Flag.withDefault(false))
  }, ({ json }) =>
    run((client) =>
      Effect.gen(function*() {
        const stored = yield* client.schedules.list()
        if (json) return yield* Console.log(JSON.stringify(stored, null, 2))
        if (stored.length === 0) return yield* Console.log("no schedules")
        for (const schedule of stored) yield* Console.log(describeSchedule(schedule))
      })
    )).pipe(Command.withDescription("List the stored schedules and daemons"))

  const set = Command.make("set", {
    name: Argument.String("name").pipe(Argument.withDescription("The schedule's name (replaces one of that name)")),
    kind: Flag.String("kind").pipe(Flag.withDescription("The task kind it submits")),
    payload: Flag.String("payload").pipe(Flag.withDescription("The payload of every submission, as JSON"), Flag.withDefault("null")),
    cron: Flag.String("cron").pipe(Flag.withDescription("When: a cron expression (UTC; six fields: seconds first)"), Flag.optional),
    everyMillis: Flag.Int("every-millis").pipe(Flag.withDescription("When: every this many milliseconds"), Flag.optional),
    daemon: Flag.Boolean("daemon").pipe(
      Flag.withDescription("Keep one task of the kind running, submitted again with backoff when it fails"),
      Flag.withDefault(false)
    )
  }, (input) =>
    Effect.gen(function*() {
      const given = [Option.isSome(input.cron), Option.isSome(input.everyMillis), input.daemon].filter(Boolean).length
      if (given !== 1) return yield* new ScheduleCliError({ detail: "give exactly one of --cron, --every-millis and --daemon" })
      const payload = yield* Effect.try({
        try: () => JSON.parse(input.payload) as unknown,
        catch: (cause) => new ScheduleCliError({ detail: `--payload is not JSON: ${String(cause)}` })
      })
      const trigger: ScheduleStore.Trigger = Option.isSome(input.cron)
        ? { _tag: "Cron", cron: input.cron.value }
        : Option.isSome(input.everyMillis)
        ? { _tag: "Interval", millis: input.everyMillis.value }
        : { _tag: "Daemon" }
      yield* run((client) =>
        Effect.flatMap(
          client.schedules.declare({ params: { name: input.name }, payload: { kind: input.kind, payload, trigger } }),
          (stored) => Console.log(describeSchedule(stored))
        )
      )
    })).pipe(Command.withDescription("Store a schedule or daemon (admins only); it runs from now on and survives restarts"))

  const remove = Command.make("remove", {
    name: Argument.String("name").pipe(Argument.withDescription("The schedule's name"))
  }, ({ name }) =>
    run((client) => Effect.andThen(client.schedules.remove({ params: { name } }), Console.log(`removed ${name}`)))).pipe(
      Command.withDescription("Stop and forget a stored schedule or daemon (admins only)")
    )

  return [
    Command.make("schedules").pipe(
      Command.withDescription("Stored schedules and daemons: list, set, remove"),
      Command.withSubcommands([list, set, remove])
    )
  ]
}
