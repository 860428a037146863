/**
 * How many `WeakMap` entries (ephemerons) this process's heap holds, read
 * off a V8 heap snapshot: V8 names the edges of each entry "… pair in
 * WeakMap …" (two per entry). A cache kept in hidden fields adds none; one
 * kept in a `WeakMap` adds an entry per object it decorates, which V8's full
 * collection must settle (`HiddenField`'s why).
 */
import { getHeapSnapshot } from "node:v8"

const needle = "pair in WeakMap"

/** The `WeakMap` entries live now (the snapshot is streamed and scanned, never parsed whole). */
export const weakMapEntries = async (): Promise<number> => {
  const snapshot = getHeapSnapshot()
  snapshot.setEncoding("utf8")
  let edges = 0
  let tail = ""
  for await (const chunk of snapshot as AsyncIterable<string>) {
    const text = tail + chunk
    for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) edges++
    tail = text.slice(-(needle.length - 1))
  }
  return edges / 2
}
