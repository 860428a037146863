/**
 * The text of a store's failure, edge by edge: a URL's credentials masked
 * even when the URL opens the text, a password setting masked whole when
 * quoted with spaces or written with spaces around `=`, a SQLSTATE named only
 * for a code of exactly five capitals or digits (a system error's code stays
 * as it is, a numeric code is not shown), and a reason without a message of
 * its own reads as its cause's message alone.
 */
import { assert, describe, it } from "@effect/vitest"
import { SqlError } from "effect/sql"
import { describe as describeFailure, masked } from "../src/internal/storeFailure.ts"

/** A `SqlError` of an unknown reason with `message`, caused by an `Error` with `causeMessage` and the given fields. */
const failure = (message: string | undefined, causeMessage: string, fields: Record<string, unknown> = {}) =>
  new SqlError.SqlError({
    reason: new SqlError.UnknownError({ message, operation: "execute", cause: Object.assign(new Error(causeMessage), fields) })
  })

describe("a store failure's text", () => {
  it("masks a URL's credentials where the text begins with it", () => {
    assert.strictEqual(masked("postgres://jobs:s3cret@db:5432/jobs refused"), "postgres://***@db:5432/jobs refused")
  })

  it("masks a password setting whole: quoted with spaces inside, or with spaces around =", () => {
    assert.strictEqual(masked(`password="two words" host=db`), "password=*** host=db")
    assert.strictEqual(masked(`password='two words' host=db`), "password=*** host=db")
    assert.strictEqual(masked(`password = s3cret host=db`), "password = *** host=db")
  })

  it("names a SQLSTATE only for a code of five capitals or digits; a system error's code as it is; no numeric code", () => {
    assert.strictEqual(describeFailure(failure("Query failed", "no table", { code: "42P01" })), "Query failed: no table (UnknownError, SQLSTATE 42P01)")
    assert.strictEqual(describeFailure(failure("Query failed", "refused", { code: "ECONNREFUSED" })), "Query failed: refused (UnknownError, ECONNREFUSED)")
    assert.strictEqual(describeFailure(failure("Query failed", "refused", { code: "X42P01" })), "Query failed: refused (UnknownError, X42P01)")
    assert.strictEqual(describeFailure(failure("Query failed", "refused", { code: "42P01X" })), "Query failed: refused (UnknownError, 42P01X)")
    assert.strictEqual(describeFailure(failure("Query failed", "not cloned", { code: 25 })), "Query failed: not cloned (UnknownError)")
  })

  it("a reason without a message of its own reads as its cause's message", () => {
    assert.strictEqual(describeFailure(failure("", "disk I/O error")), "disk I/O error (UnknownError)")
  })
})
