/**
 * Settings given over their defaults, as the layers of this library take
 * them: a setting omitted and one given as `undefined` are the same — the
 * default. A caller passing on an optional setting of its own
 * (`{ maxEventStreams: options.maxEventStreams }`) gives `undefined` when it
 * has none, and means "no preference", not "no value".
 *
 * @since 0.1.0
 */

/** Settings `A` as a caller gives them: any of them omitted or `undefined`, each then its default. */
export type Given<A> = { readonly [K in keyof A]?: A[K] | undefined }

/** `given` over `defaults`: each setting given and not `undefined` replaces its default; the others keep theirs. */
export const withDefaults = <A extends object>(defaults: A, given: Given<A> | undefined): A => {
  const settings = { ...defaults }
  if (given === undefined) return settings
  for (const key of Object.keys(given) as Array<keyof A>) {
    const value = given[key]
    if (value !== undefined) settings[key] = value as A[keyof A]
  }
  return settings
}
