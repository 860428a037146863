/**
 * A task kind as data: its name, the Schemas of what its tasks take, return,
 * fail with, checkpoint and report, and the policy they run under; and the
 * types read off a kind. `Task.define` makes one; the supervisor, the codec
 * and the handles only read it.
 *
 * @since 0.1.0
 */
import type { Schema } from "effect"
import type { ResolvedPolicy } from "./TaskPolicy.ts"

/** A Schema with no service requirements, as task kinds use for their data. */
export type PlainSchema = Schema.Codec<any, any, never, never>

/** A task kind: its name, Schemas and resolved policy. */
export interface TaskKind<
  Name extends string = string,
  Payload extends PlainSchema = PlainSchema,
  Success extends PlainSchema = PlainSchema,
  Error extends PlainSchema = PlainSchema,
  Checkpoint extends PlainSchema = PlainSchema,
  Detail extends PlainSchema = PlainSchema
> {
  /** The kind's name, unique among the kinds registered with one supervisor. */
  readonly name: Name
  /** The Schema of a task's input. */
  readonly payload: Payload
  /** The Schema of a task's result. */
  readonly success: Success
  /** The Schema of a task's typed error (`Schema.Never` unless given). */
  readonly error: Error
  /** The Schema of the kind's checkpoints (`Schema.Unknown` unless given). */
  readonly checkpoint: Checkpoint
  /** The Schema of the kind's progress details (`Schema.Unknown` unless given). */
  readonly detail: Detail
  /** The kind's policy with every default filled in. */
  readonly policy: ResolvedPolicy
}

/** Any task kind. */
export type Any = TaskKind<string, PlainSchema, PlainSchema, PlainSchema, PlainSchema, PlainSchema>

/** The payload type of a kind. */
export type Payload<K extends Any> = K["payload"]["Type"]
/** The success type of a kind. */
export type Success<K extends Any> = K["success"]["Type"]
/** The typed error of a kind. */
export type Error<K extends Any> = K["error"]["Type"]
/** The checkpoint type of a kind. */
export type Checkpoint<K extends Any> = K["checkpoint"]["Type"]
/** The progress detail type of a kind. */
export type Detail<K extends Any> = K["detail"]["Type"]
