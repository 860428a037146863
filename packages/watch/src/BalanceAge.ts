/**
 * The age limit of a balance read (`maxAgeMillis`): the chain is read when the
 * cached amount is older. It is a whole number of milliseconds from 0 to
 * `maxAgeMillisLimit` (a year); anything else — a fraction, a negative, a
 * number past the limit, `Infinity` or `NaN` — is refused with the field
 * named, never read as "any age" (a read without `maxAgeMillis` is that).
 * `MaxAgeMillis` checks a number (an RPC payload's), `MaxAgeMillisFromString`
 * a query string's text: decimal digits only, so that `1e400`, `0x10`, `-0`,
 * `1e-7` and an empty value are refused as written rather than as `Number`
 * would read them.
 *
 * @since 0.1.0
 */
import { Schema, SchemaTransformation } from "effect"

/** The largest age limit a read may give: a year, in milliseconds. */
export const maxAgeMillisLimit = 365 * 24 * 60 * 60 * 1000

/** What an age limit is, in words: the refusal of one names it. */
export const maxAgeMillisExpected = `a whole number of milliseconds from 0 to ${maxAgeMillisLimit}`

/** An age limit: a whole number of milliseconds from 0 to `maxAgeMillisLimit`. */
export const MaxAgeMillis = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: maxAgeMillisLimit })).annotate({
  expected: maxAgeMillisExpected
})

/** An age limit written in a query: decimal digits only, read as `MaxAgeMillis`. */
export const MaxAgeMillisFromString = Schema.String.check(Schema.isPattern(/^[0-9]+$/)).annotate({
  expected: `${maxAgeMillisExpected}, in decimal digits`
}).pipe(Schema.decodeTo(MaxAgeMillis, SchemaTransformation.numberFromString))
