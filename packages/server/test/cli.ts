/** Runs the command line in process against the server under test, as a user would from a terminal. */
import { NodeServices } from "@effect/platform-node"
import { Console, Effect, Exit, Option } from "effect"
import * as Cli from "../src/Cli.ts"
import { baseUrl } from "./http.ts"

/** Runs `chainjobs ...args` (the shared flags included) in this process, capturing the lines it prints. */
export const runCli = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const capture = { ...globalThis.console, log: (...parts: Array<unknown>) => lines.push(parts.join(" ")) }
    const exit = yield* Cli.run(args).pipe(
      Effect.provideService(Console.Console, capture),
      Effect.provide(NodeServices.layer),
      Effect.exit
    )
    return { exit, lines }
  })

/** Runs `chainjobs --url <server under test> ...args`, capturing what it prints. */
export const chainjobs = (...args: Array<string>) => Effect.flatMap(baseUrl, (base) => runCli(["--url", base, ...args]))

/** The typed error a run ended with, as `<tag>: <message>`; "" when it succeeded, "died" when it ended otherwise. */
export const failure = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return ""
  const error = Exit.findErrorOption(exit)
  return Option.isSome(error) ? `${(error.value as any)._tag}: ${(error.value as Error).message}` : "died"
}
