/**
 * The `WatchChanges` item of a feed change, made once for all the change's
 * subscribers: every stream gets the same object, so a deletion's item is
 * encoded once (`preEncoded` keeps an encoding on the object), not once per
 * client.
 */
import { HiddenField, type TaskFeed } from "@chainjobs/tasks"
import type { WatchChangesItem } from "../TaskRpcs.ts"

/** The item made for a change, kept on the change (the feed's ring holds those) in a hidden field, not a `WeakMap`. */
const items = HiddenField.make<WatchChangesItem>()

/** The item of `change`: the same object each time it is asked for. */
export const watchChangesItem = (change: TaskFeed.Change): WatchChangesItem => {
  let item = items.get(change)
  if (item === undefined) {
    item = { _tag: "Change", eventId: change.eventId, event: change.deleted ? { _tag: "Deleted", info: change.info } : change.info }
    items.set(change, item)
  }
  return item
}
