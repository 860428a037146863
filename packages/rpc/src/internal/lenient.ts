/**
 * Lenient request payloads. `RpcServer` answers a payload that fails its
 * Schema with an untyped defect; a lenient payload Schema instead decodes such
 * a payload to a `Malformed` marker, which the `RequestValidation` middleware
 * turns into a typed `MalformedRequest` before any handler runs.
 */
import { Cause, Exit, Result, Schema, SchemaIssue, SchemaParser, SchemaTransformation } from "effect"

const format = SchemaIssue.makeFormatterDefault()

/** Stands in for a payload that did not decode; carries the description of why. */
export class Malformed {
  readonly description: string
  constructor(issue: SchemaIssue.Issue) {
    this.description = format(issue)
  }
}

/**
 * What a request carries as its payload, taken as it is by the JSON codec —
 * a request line without one (`undefined`) too: `Schema.Unknown`'s JSON
 * codec refuses that as not a JSON value, which `RpcServer` answered with an
 * untyped defect before the payload's own decoding could make it a
 * `Malformed`.
 */
const Anything = Schema.declare((_: unknown): _ is unknown => true, { toCodecJson: () => undefined })

/**
 * The payload Schema `schema`, decoding an invalid payload to a `Malformed`
 * marker instead of failing. Its type stays that of `schema`: only the
 * validation middleware ever sees the marker.
 *
 * Both directions answer an `Exit`, never a pending effect, so that the
 * whole payload decoding resolves at once: `RpcServer` runs a decoding that
 * did not resolve at once under the handlers' services merged into the
 * connection's context — a copy of every service, made for every request.
 */
export const lenient = <S extends Schema.Codec<any, any, never, never>>(schema: S) => {
  const decode = SchemaParser.decodeUnknownExit(schema)
  const encode = SchemaParser.encodeUnknownExit(schema)
  const made = Anything.pipe(Schema.decodeTo(
    Schema.declare((_: unknown): _ is S["Type"] => true),
    SchemaTransformation.transformEffect({
      decode: (input: unknown): Exit.Exit<S["Type"], SchemaIssue.Issue> => {
        const exit = decode(input)
        if (Exit.isSuccess(exit)) return exit
        // A typed failure is the payload's issue; a defect stays one.
        const issue = Cause.findError(exit.cause)
        return Result.isSuccess(issue) ? Exit.succeed(new Malformed(issue.success) as S["Type"]) : exit
      },
      encode
    })
  ))
  lenientSchemas.add(made)
  return made
}

const lenientSchemas = new WeakSet<object>()

/** Whether `schema` was made by `lenient` (it decodes any payload, to a `Malformed` marker if need be). */
export const isLenient = (schema: object): boolean => lenientSchemas.has(schema)
