/** `chainjobs serve` run in the test process, and the probes of the port it binds (or must not bind). */
import { NodeServices } from "@effect/platform-node"
import { Console, Effect } from "effect"
import * as Cli from "../src/Cli.ts"

/** The status of `GET url` (with a bearer when given), or `"refused"` when nothing answered. */
export const get = (url: string, token?: string) =>
  Effect.promise(() =>
    fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }).then(
      (response) => response.status,
      () => "refused" as const
    )
  )

/**
 * `serve` on 127.0.0.1:`port`, tasks in memory, no chain, no log, with `flags` besides, run in this process with its
 * console silenced; it serves until interrupted (or fails as the command does).
 */
export const serve = (port: number, ...flags: ReadonlyArray<string>) => serveLogging(port, "none", ...flags)

/** `serve` as above, writing its log at `logLevel` and above (as JSON lines on stdout). */
export const serveLogging = (port: number, logLevel: string, ...flags: ReadonlyArray<string>) =>
  Cli.run([
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--data-dir",
    ":memory:",
    "--dev-chain",
    "false",
    ...flags,
    "--log-level",
    logLevel
  ]).pipe(
    Effect.provideService(Console.Console, { ...globalThis.console, log: () => {}, info: () => {}, warn: () => {}, error: () => {} }),
    Effect.provide(NodeServices.layer)
  )
