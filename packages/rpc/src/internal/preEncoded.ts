/**
 * Stream items encoded once for every watcher. A record the feed hands to
 * 190 `Watch` streams was encoded 190 times — its Schema's JSON encoding,
 * then `JSON.stringify` of the whole answer — once per client, where the SSE
 * hub writes one frame to all. Here:
 *
 * - `schema(S)` is `S` on the wire, but its JSON encoding of a value is made
 *   once per value (by identity: the feed hands every watcher the same
 *   object): the text its owner keeps (a record's, `TaskInfo.jsonText`),
 *   else a `PreEncoded` holding the JSON text, kept on the value while it
 *   lives (a hidden field, not a `WeakMap` entry: `HiddenField`);
 * - `layerNdjson` is the ndjson serialization of `effect/rpc` that writes a
 *   `PreEncoded` as its text, so a stream chunk's line is the envelope
 *   around texts already made. Any other serializer still writes it right
 *   (its `toJSON` is the encoded value), only without the saving.
 *
 * Decoding is `S`'s JSON decoding: the bytes on the wire are the same as
 * without it, and clients read them as they did.
 */
import { Effect, Exit, Layer, Schema, SchemaGetter, type SchemaIssue } from "effect"
import { RpcSerialization } from "effect/rpc"
import { HiddenField } from "@chainjobs/tasks"

/**
 * A value already encoded to JSON, kept as its text only (it lives as long
 * as its value, e.g. a record in the feed's replay ring: one string, not
 * the encoded copy as well).
 */
export class PreEncoded {
  /** The JSON text of the value as its Schema's JSON encoding made it. */
  readonly json: string
  constructor(json: string) {
    this.json = json
  }
  /** What `JSON.stringify` writes for it (another serializer than `ndjson`): the encoded value, parsed back. */
  toJSON(): unknown {
    return JSON.parse(this.json)
  }
}

/** The encoded side of a pre-encoded schema: any value, left as it is by the JSON codec (it is the encoding itself). */
const Encoding = Schema.declare((_: unknown): _ is unknown => true, { toCodecJson: () => undefined })

/**
 * `schema` on the wire, encoded to JSON once per value: encoding the same
 * object again, for another client, answers the `PreEncoded` made the first
 * time. Values must not be mutated once encoded (records are not).
 *
 * The declaration's own check takes any object as it is and checks only
 * other values: an object is checked where it matters, by the encoding
 * (which refuses one that is not an `S`, as an issue) or by the decoding
 * that made it. Checking it again (`Schema.is(S)` of a whole record, for
 * every record a watcher was sent, most watched by one client) was 1.4% of
 * the service's CPU under the load mix (`npm run bench -- load`), as much
 * as encoding it. So `Schema.is` of this schema alone does not check an
 * object: use `S`'s.
 *
 * `textOf`, when given, answers a value's JSON text made elsewhere and
 * shared with other writers (a record's text, which the feed's SSE frames
 * write too: `TaskInfo.jsonText`), or `undefined` to encode it here; the
 * text must be what `S`'s JSON encoding of the value would give. Such a
 * text is kept by its owner: each encoding wraps it anew (a small object
 * that dies young), and nothing more is kept on the value. With
 * `keepText`, `textOf` makes the text instead (around texts kept
 * elsewhere, e.g. a change's line around its record's): it is asked once
 * per value and its `PreEncoded` kept on the value, as one encoded here is.
 * A value encoded here keeps its `PreEncoded` on itself.
 */
export const schema = <S extends Schema.Codec<any, any>>(
  schema: S,
  textOf?: (value: S["Type"]) => string | undefined,
  options?: { readonly keepText?: boolean | undefined }
): Schema.declare<S["Type"]> => {
  const codec = Schema.toCodecJson(schema as Schema.Codec<S["Type"], unknown>)
  const encode = Schema.encodeExit(codec)
  const decode = Schema.decodeUnknownEffect(codec)
  const is = Schema.is(schema)
  const encoded = HiddenField.make<PreEncoded>()
  const keepText = options?.keepText === true
  /** Keeps `made` on `value` and answers it. */
  const kept = (value: object, made: PreEncoded): PreEncoded => {
    encoded.set(value, made)
    return made
  }
  /**
   * The value's `PreEncoded`: around its owner's text, else the one kept on it, else made on its first encoding —
   * from `textOf`'s text with `keepText` —; a value that is not an `S` fails with the issue.
   */
  const once = (value: object): Effect.Effect<PreEncoded, SchemaIssue.Issue> => {
    const shared = keepText ? undefined : textOf?.(value)
    if (shared !== undefined) return Exit.succeed(new PreEncoded(shared))
    const done = encoded.get(value)
    if (done !== undefined) return Exit.succeed(done)
    const made = keepText ? textOf?.(value) : undefined
    if (made !== undefined) return Exit.succeed(kept(value, new PreEncoded(made)))
    return Exit.mapBoth(encode(value), {
      onFailure: (error) => error.issue,
      onSuccess: (json) => kept(value, new PreEncoded(JSON.stringify(json)))
    })
  }
  return Schema.declare(
    (u: unknown): u is S["Type"] => (typeof u === "object" && u !== null) || is(u),
    {
      toCodecJson: () =>
        Schema.link<S["Type"]>()(Encoding, {
          decode: SchemaGetter.transformEffect((u: unknown) => Effect.mapError(decode(u), (error) => error.issue)),
          encode: SchemaGetter.transformEffect((value: S["Type"]): Effect.Effect<unknown, SchemaIssue.Issue> =>
            typeof value === "object" && value !== null
              ? once(value)
              : Exit.mapError(encode(value), (error) => error.issue)
          )
        })
    }
  )
}

/** A value as JSON text: a `PreEncoded` as made, anything else stringified. */
const text = (value: unknown): string => value instanceof PreEncoded ? value.json : JSON.stringify(value) ?? "null"

/** Each key of a chunk message as JSON text (a chunk has a handful of keys: `_tag`, `requestId`, `values`). */
const keyTexts = new Map<string, string>()
const keyText = (key: string): string => {
  let quoted = keyTexts.get(key)
  if (quoted === undefined) {
    quoted = JSON.stringify(key)
    if (keyTexts.size < 64) keyTexts.set(key, quoted)
  }
  return quoted
}

/**
 * A message as JSON text: a stream chunk's values written as `text` writes them, any other message stringified.
 * The chunk's text is added to piece by piece, not joined: V8 keeps the pieces as one string and copies them once,
 * when the line is written (a join copied every value's text into it first).
 */
const line = (message: unknown): string => {
  const chunk = message as { readonly _tag?: unknown; readonly values?: unknown }
  if (chunk === null || typeof chunk !== "object" || chunk._tag !== "Chunk" || !Array.isArray(chunk.values)) {
    return JSON.stringify(message)
  }
  const fields = chunk as Record<string, unknown>
  let out = "{"
  for (const key of Object.keys(fields)) {
    const value = fields[key]
    if (value === undefined) continue
    if (out.length > 1) out += ","
    out += keyText(key)
    if (key !== "values") {
      out += `:${JSON.stringify(value)}`
      continue
    }
    const values = value as ReadonlyArray<unknown>
    out += ":["
    for (let i = 0; i < values.length; i++) out += i === 0 ? text(values[i]) : `,${text(values[i])}`
    out += "]"
  }
  return `${out}}`
}

/** `effect/rpc`'s ndjson serialization, writing pre-encoded values as their text (decoding unchanged). */
export const ndjson: RpcSerialization.RpcSerialization["Service"] = RpcSerialization.RpcSerialization.of({
  ...RpcSerialization.ndjson,
  makeUnsafe: () => {
    const parser = RpcSerialization.ndjson.makeUnsafe()
    return {
      decode: parser.decode,
      encode: (response) => {
        if (!Array.isArray(response)) return `${line(response)}\n`
        if (response.length === 0) return undefined
        let data = ""
        for (const message of response) data += `${line(message)}\n`
        return data
      }
    }
  }
})

/** Provides `ndjson`. */
export const layerNdjson: Layer.Layer<RpcSerialization.RpcSerialization> = Layer.succeed(RpcSerialization.RpcSerialization)(ndjson)
