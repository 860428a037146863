/**
 * Lenient request payloads. `RpcServer` answers a payload that fails its
 * Schema with an untyped defect; a lenient payload Schema instead decodes such
 * a payload to a `Malformed` marker, which the `RequestValidation` middleware
 * turns into a typed `MalformedRequest` before any handler runs.
 */
import { Effect, Option, Schema, SchemaIssue } from "effect"

const format = SchemaIssue.makeFormatterDefault()

/** Stands in for a payload that did not decode; carries the description of why. */
export class Malformed {
  readonly description: string
  constructor(issue: SchemaIssue.Issue) {
    this.description = format(issue)
  }
}

/**
 * The payload Schema `schema`, decoding an invalid payload to a `Malformed`
 * marker instead of failing. Its type stays that of `schema`: only the
 * validation middleware ever sees the marker.
 */
export const lenient = <S extends Schema.Top>(schema: S) =>
  schema.pipe(Schema.catchDecoding((issue) => Effect.succeed(Option.some(new Malformed(issue) as S["Type"]))))
