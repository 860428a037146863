/**
 * A value kept on an object without a `WeakMap`: a private field stamped on
 * it, living exactly as long as the object.
 *
 * Why not a `WeakMap`: each of its entries is an ephemeron, which V8's full
 * collection must settle in rounds; with about a hundred thousand of them
 * live (a few per task record under load) it falls back to its linear
 * algorithm, whose table of ephemerons doubles in the C heap (`malloc`) and
 * is never given back — the service's RSS grew in steps of 1 to 12 MB. A
 * private field is a plain property to the collector.
 *
 * What no reader sees: the field is not an own key (`Object.keys`,
 * `Reflect.ownKeys`, `JSON.stringify`, a spread copy, `structuredClone`,
 * Effect's `Equal` and `Hash`, a Schema's encoding and its excess-property
 * check all ignore it), so a record with a value kept on it stays the value
 * it was. An object that is not extensible (frozen) keeps nothing: `get`
 * answers `undefined` and the caller makes the value again.
 *
 * @since 0.1.0
 */

/** One kind of value kept on objects: each `make()` is a field of its own. */
export interface HiddenField<V> {
  /** The value kept on `target`, or `undefined` if none is. */
  readonly get: (target: object) => V | undefined
  /** Keeps `value` on `target`, in place of any kept before; on an object that is not extensible, does nothing. */
  readonly set: (target: object, value: V) => void
}

/**
 * A new field. The private name is stamped on an object by a constructor
 * that returns that object (a base class's constructor returning its
 * argument makes `this` the object for the derived class's fields).
 */
export const make = <V>(): HiddenField<V> => {
  class Target {
    constructor(target: object) {
      return target
    }
  }
  class Field extends Target {
    #value: V | undefined = undefined
    static get(target: object): V | undefined {
      return #value in target ? target.#value : undefined
    }
    static set(target: object, value: V): void {
      if (#value in target) {
        target.#value = value
      } else if (Object.isExtensible(target)) {
        new Field(target).#value = value
      }
    }
  }
  return { get: Field.get, set: Field.set }
}
