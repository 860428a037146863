/**
 * The `WatchChanges` item of a feed change, made once for all the change's
 * subscribers: every stream gets the same object, so the item is encoded
 * once (`preEncoded` keeps an encoding per object), not once per client.
 */
import type { TaskFeed } from "@chainjobs/tasks"
import type { WatchChangesItem } from "../TaskRpcs.ts"

/** The items made so far, living as long as their changes (the feed's ring holds those). */
const items = new WeakMap<TaskFeed.Change, WatchChangesItem>()

/** The item of `change`: the same object each time it is asked for. */
export const watchChangesItem = (change: TaskFeed.Change): WatchChangesItem => {
  let item = items.get(change)
  if (item === undefined) {
    item = { _tag: "Change", eventId: change.eventId, event: change.deleted ? { _tag: "Deleted", info: change.info } : change.info }
    items.set(change, item)
  }
  return item
}
