/**
 * The watch part of the `chainjobs` command line, over the service's REST
 * API (`/api/watch`) with the shared `--url` and `--token`:
 *
 * ```
 * chainjobs watchers list | lag <name> | pause <name> | resume <name> | remove <name>
 * chainjobs watchers add --spec '{"name":…,"chain":…,"processor":…,"accounts":[…]}'
 * chainjobs balance <chain> <account> [--asset native|<token>|all] [--verify] [--max-age-millis n]
 * chainjobs balances [--chain c] [--account a] [--stale true|false] [--cursor c] [--limit n]
 * ```
 *
 * (`chainjobs watch <id>` follows a task; the watchers are `watchers`.) It
 * also gives `serve` its watch flags.
 *
 * @since 0.1.0
 */
import { Console, Effect, Option, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as CliRequests from "./CliRequests.ts"

/** A watch command failed: the server refused it (its status and message) or could not be reached. */
export class WatchCliError extends Schema.TaggedError<WatchCliError>("@chainjobs/server/WatchCliError")("WatchCliError", {
  status: Schema.optionalKey(Schema.Number),
  detail: Schema.String
}) {
  override get message(): string {
    return this.status === undefined ? this.detail : `${this.status}: ${this.detail}`
  }
}

/** `serve`'s watch flags, made with `serve`'s own flag maker (flag name, variable, description). */
export const serveSettings = <F>(setting: (name: string, variable: string, description: string) => F) => ({
  watchers: setting("watchers", "CHAINJOBS_WATCHERS", "Watchers declared at start, as JSON: [{name, chain, processor, accounts}]"),
  watchPollInterval: setting("watch-poll-interval", "CHAINJOBS_WATCH_POLL_INTERVAL", "How often a watcher reads the chain head"),
  balanceRefreshEvery: setting("balance-refresh-every", "CHAINJOBS_BALANCE_REFRESH_EVERY", "How often stale cached balances are read again"),
  balanceReconcileEvery: setting(
    "balance-reconcile-every",
    "CHAINJOBS_BALANCE_RECONCILE_EVERY",
    "How often every cached balance is checked against the chain"
  )
})

/** Where the server is and who calls: the command line's shared flags. */
export interface Target {
  readonly url: string
  readonly token: string
  /** The time limit of a request, in seconds (`--timeout`; see `CliRequests`). */
  readonly timeout: number
}

/** One REST call under `/api/watch`; the parsed JSON body (null for none), or the server's refusal. */
export const call = (target: Target, method: string, path: string, body?: unknown) =>
  Effect.tryPromise({
    try: async () => {
      const headers: Record<string, string> = {}
      if (target.token !== "") headers.authorization = `Bearer ${target.token}`
      if (body !== undefined) headers["content-type"] = "application/json"
      const response = await fetch(`${target.url.replace(/\/$/, "")}/api/watch${path}`, {
        method,
        headers,
        signal: AbortSignal.timeout(target.timeout * 1000),
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      const text = await CliRequests.readText(response, target.url)
      return { status: response.status, ok: response.ok, json: text === "" ? null : JSON.parse(text) as any }
    },
    catch: (cause) =>
      new WatchCliError({
        detail: cause instanceof CliRequests.AnswerTooLarge
          ? cause.message
          : (cause as { readonly name?: unknown } | null)?.name === "TimeoutError"
          ? new CliRequests.NoAnswer({ url: target.url, seconds: target.timeout, awaited: "answer" }).message
          : `cannot reach ${target.url}: ${cause}`
      })
  }).pipe(Effect.flatMap((reply) =>
    reply.ok
      ? Effect.succeed(reply.json)
      : Effect.fail(new WatchCliError({ status: reply.status, detail: reply.json?.message ?? reply.json?._tag ?? "refused" }))
  ))

const jsonFlag = Flag.Boolean("json").pipe(Flag.withDescription("Print JSON, for scripts"), Flag.withDefault(false))
const nameArgument = Argument.String("name").pipe(Argument.withDescription("The watcher's name"))
const path = (name: string) => `/watchers/${encodeURIComponent(name)}`

/** A watcher on one line: name, chain, status, confirmed block, processor. */
export const describeWatcher = (watcher: any): string =>
  [String(watcher.name).padEnd(24), String(watcher.chain).padEnd(12), String(watcher.status).padEnd(8), `confirmed ${watcher.confirmedBlock}`, watcher.processor].join("  ")

/** The `watchers` and `balance` commands, reading the shared flags from `target`. */
export const commands = <R>(target: Effect.Effect<Target, never, R>) => {
  const run = <A>(f: (target: Target) => Effect.Effect<A, WatchCliError>) => Effect.flatMap(target, f)
  const simple = (name: string, method: string, suffix: string, done: string, description: string) =>
    Command.make(name, { name: nameArgument }, ({ name: watcher }) =>
      run((t) => Effect.andThen(call(t, method, path(watcher) + suffix), Console.log(`${watcher} ${done}`)))).pipe(
        Command.withDescription(description)
      )
  const list = Command.make("list", { json: jsonFlag }, ({ json }) =>
    run((t) =>
      Effect.flatMap(call(t, "GET", "/watchers"), (watchers: Array<any>) =>
        json ? Console.log(JSON.stringify(watchers, null, 2)) : Effect.forEach(watchers, (w) => Console.log(describeWatcher(w)), { discard: true })))
  ).pipe(Command.withDescription("List the watchers"))
  const add = Command.make("add", {
    spec: Flag.String("spec").pipe(Flag.withDescription("The watcher, as JSON: {name, chain, processor, accounts?, contracts?, confirmations?, startBlock?}"))
  }, ({ spec }) =>
    run((t) =>
      Effect.try({ try: () => JSON.parse(spec) as unknown, catch: () => new WatchCliError({ detail: "--spec is not JSON" }) }).pipe(
        Effect.flatMap((body) => call(t, "POST", "/watchers", body)),
        Effect.flatMap((watcher) => Console.log(describeWatcher(watcher)))
      ))
  ).pipe(Command.withDescription("Add a watcher (admins only)"))
  const lag = Command.make("lag", { name: nameArgument, json: jsonFlag }, ({ name, json }) =>
    run((t) =>
      Effect.flatMap(call(t, "GET", `${path(name)}/lag`), (lag) =>
        Console.log(
          json
            ? JSON.stringify(lag, null, 2)
            : `${lag.watcher}  head ${lag.head ?? "-"}  confirmed ${lag.confirmed}  processed ${lag.processed}  reorgs ${lag.reorgs}${
              lag.lastError === null ? "" : `  error ${lag.lastError}`
            }`
        )))
  ).pipe(Command.withDescription("How far a watcher is behind: head, confirmed and processed blocks"))
  const watchers = Command.make("watchers").pipe(
    Command.withDescription("Chain watchers: list, add, pause, resume, remove, lag"),
    Command.withSubcommands([
      list,
      add,
      simple("pause", "POST", "/pause", "paused", "Pause a watcher (admins only)"),
      simple("resume", "POST", "/resume", "resumed", "Resume a watcher (admins only)"),
      simple("remove", "DELETE", "", "removed", "Remove a watcher (admins only)"),
      lag
    ])
  )
  const balance = Command.make("balance", {
    chain: Argument.String("chain"),
    account: Argument.String("account"),
    asset: Flag.String("asset").pipe(
      Flag.withDescription("native, a token's address or coin type, or all (every asset the account holds)"),
      Flag.withDefault("native")
    ),
    verify: Flag.Boolean("verify").pipe(Flag.withDescription("Read the chain and correct the cache"), Flag.withDefault(false)),
    maxAgeMillis: Flag.String("max-age-millis").pipe(Flag.withDescription("Read the chain when the cached amount is older"), Flag.optional),
    json: jsonFlag
  }, ({ account, asset, chain, json, maxAgeMillis, verify }) =>
    run((t) => {
      const query = [
        ...(verify ? ["verify=true"] : []),
        ...Option.toArray(Option.map(maxAgeMillis, (millis) => `maxAgeMillis=${encodeURIComponent(millis)}`))
      ]
      const url = `/balances/${encodeURIComponent(chain)}/${encodeURIComponent(account)}${asset === "all" ? "" : `/${encodeURIComponent(asset)}`}${
        query.length === 0 ? "" : `?${query.join("&")}`
      }`
      const line = (b: any) =>
        `${b.amount}  (pending in ${b.pendingIn}, out ${b.pendingOut}; ${b.fromChain ? "read from the chain" : `cached ${b.ageMillis} ms ago`}${
          b.stale ? ", stale" : ""
        })`
      return Effect.flatMap(call(t, "GET", url), (b) =>
        Console.log(
          json
            ? JSON.stringify(b, null, 2)
            : asset === "all"
            ? (b as Array<any>).map((one) => `${one.asset}  ${line(one)}`).join("\n")
            : line(b)
        ))
    })
  ).pipe(Command.withDescription("A cached balance, or every asset of the account with --asset all (--verify or --max-age-millis read the chain)"))
  const balances = Command.make("balances", {
    chain: Flag.String("chain").pipe(Flag.withDescription("Only this chain's balances"), Flag.optional),
    account: Flag.String("account").pipe(Flag.withDescription("Only this account's balances (needs --chain)"), Flag.optional),
    stale: Flag.Literals("stale", ["true", "false"]).pipe(Flag.withDescription("Only stale (true) or fresh (false) balances"), Flag.optional),
    cursor: Flag.String("cursor").pipe(Flag.withDescription("Where the previous page ended (its next cursor)"), Flag.optional),
    limit: Flag.Int("limit").pipe(Flag.withDescription("At most this many balances (1-1000)"), Flag.withDefault(100)),
    json: jsonFlag
  }, ({ account, chain, cursor, json, limit, stale }) =>
    run((t) => {
      const query = new URLSearchParams({ limit: String(limit) })
      for (const [key, value] of [["chain", chain], ["account", account], ["stale", stale], ["cursor", cursor]] as const) {
        if (Option.isSome(value)) query.set(key, value.value)
      }
      return Effect.flatMap(call(t, "GET", `/balances?${query}`), (page) =>
        json
          ? Console.log(JSON.stringify(page, null, 2))
          : Effect.andThen(
            Effect.forEach(page.balances as Array<any>, (b) =>
              Console.log(
                [String(b.chain).padEnd(12), String(b.account).padEnd(44), String(b.asset).padEnd(10), String(b.amount).padStart(28), b.stale ? "stale" : ""]
                  .join("  ")
                  .trimEnd()
              ), { discard: true }),
            page.next === undefined ? Effect.void : Console.log(`next: --cursor ${page.next}`)
          ))
    })
  ).pipe(Command.withDescription("The cached balances, a page at a time (no chain reads)"))
  return [watchers, balance, balances] as const
}
