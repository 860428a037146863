/**
 * A client's `KindMap` derived from the kinds' own definitions, for a
 * TypeScript program that can see them (`Task.define` of
 * `@chainjobs/tasks`): each kind's payload and result as they travel in
 * JSON (the Schemas' encoded types). A type only: nothing of Effect is
 * loaded at run time.
 *
 * ```ts
 * import type { KindsOf } from "@chainjobs/client"
 * const client = new ChainjobsClient<KindsOf<[typeof ChainTasks.SyncEvents]>>({ baseUrl })
 * ```
 *
 * @since 0.1.0
 */
import type { Task } from "@chainjobs/tasks"

/** The payload and result of each of `Kinds`, by name, in their JSON form. */
export type KindsOf<Kinds extends ReadonlyArray<Task.Any>> = {
  readonly [Kind in Kinds[number] as Kind["name"]]: {
    readonly payload: Kind["payload"]["Encoded"]
    readonly result: Kind["success"]["Encoded"]
  }
}
