/**
 * Lenient request payloads. `RpcServer` answers a payload that fails its
 * Schema with an untyped defect; a lenient payload Schema instead decodes such
 * a payload to a `Malformed` marker, which the `RequestValidation` middleware
 * turns into a typed `MalformedRequest` before any handler runs.
 */
import { Effect, Schema, SchemaIssue, SchemaTransformation } from "effect"

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
export const lenient = <S extends Schema.Codec<any, any, never, never>>(schema: S) => {
  const decode = Schema.decodeUnknownEffect(schema)
  const encode = Schema.encodeUnknownEffect(schema)
  const made = Schema.Unknown.pipe(Schema.decodeTo(
    Schema.declare((_: unknown): _ is S["Type"] => true),
    SchemaTransformation.transformEffect({
      decode: (input: unknown) =>
        Effect.catch(decode(input), (error) => Effect.succeed(new Malformed(error.issue) as S["Type"])),
      encode: (value: S["Type"]) => Effect.mapError(encode(value), (error) => error.issue)
    })
  ))
  lenientSchemas.add(made)
  return made
}

const lenientSchemas = new WeakSet<object>()

/** Whether `schema` was made by `lenient` (it decodes any payload, to a `Malformed` marker if need be). */
export const isLenient = (schema: object): boolean => lenientSchemas.has(schema)
