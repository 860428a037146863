/**
 * Tables that never empty. V8 gives a `Map` or `Set` a new, smaller table
 * whenever its last entry goes; a supervisor whose tasks end one at a time
 * (each done before the next comes) made one per task in each of its tables
 * of live tasks: ~40 ns and ~135 bytes each. These hold one placeholder for
 * good, first in iteration order, so that their tables keep their size.
 */

/** The placeholder: a key no caller can make (not a string, not a task). */
const placeholder: unique symbol = Symbol("@chainjobs/tasks/unshrinking")

/** A `Map` that never empties: its lookups by a real key never see the placeholder; its `size` counts it. */
export const unshrinkingMap = <K, V>(): Map<K, V> => new Map<K, V>([[placeholder as K, undefined as V]])

/** A `Set` that never empties: the placeholder comes first in iteration (skip it) and its `size` counts it. */
export const unshrinkingSet = <A>(): Set<A> => new Set<A>([placeholder as A])
