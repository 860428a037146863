/**
 * `HttpConnection.post` as the connection's in-process tests call it, bounded: a POST that neither answers nor
 * fails within 10 s (an answer's handler broken, its end never told) fails the test at once, saying so, instead of
 * holding it to vitest's bound — so a mutation stage's hang there is a cheap kill.
 */
import { Effect, Exit, Option } from "effect"
import * as HttpConnection from "../src/internal/httpConnection.ts"

/** `HttpConnection.post`, or a defect once 10 s passed without its answer or failure. */
export const post = (connection: HttpConnection.HttpConnection, body: string) =>
  HttpConnection.post(connection, body).pipe(
    Effect.timeoutOrElse({
      duration: "10 seconds",
      orElse: () => Effect.die(new Error("the POST neither answered nor failed within 10 s"))
    })
  )

/**
 * Whether a bounded POST's exit is the request's own failure (`post`'s error), not the bound's defect: a test that
 * expects the request to fail asks this, so that a POST held past the bound does not pass for one that failed.
 */
export const failedOnItsOwn = <A>(exit: Exit.Exit<A, string>): boolean => Option.isSome(Exit.findErrorOption(exit))
