/** Assertions shared by the RPC tests. */
import { assert } from "@effect/vitest"
import { Cause, Exit, Option } from "effect"

/** The typed error an exit failed with; fails the test if it succeeded or failed otherwise. */
export const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
  assert.isTrue(Option.isSome(error), "expected a typed failure")
  return Option.getOrThrow(error)
}
