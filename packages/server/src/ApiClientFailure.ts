/**
 * What a command says when its call through one of the service's typed REST
 * clients (`ChainsApi`, `SchedulesApi`, `SuiApi`) failed: a server that never
 * answered cannot be reached; one that answered 404 does not serve those
 * routes (the command says why when it knows: started without chains, say);
 * any other status is told as the server's answer, since it was reached. A
 * refusal the API declares is a typed error of its own, told by its message.
 *
 * @since 0.1.0
 */
import { HttpClientError } from "effect/http"

/**
 * The detail of a call that got no answer the API declares (an `HttpClientError`), or `undefined` for any other
 * failure. `notServed` says why a 404 came (`has no chains (…)`); without it a 404 is told as any other status.
 */
export const transportDetail = (url: string, error: unknown, notServed?: string): string | undefined => {
  if (!HttpClientError.isHttpClientError(error)) return undefined
  const status = error.response?.status
  if (status === undefined) return `cannot reach the server at ${url}: ${error.message}`
  if (status === 404 && notServed !== undefined) return `the server at ${url} ${notServed}`
  return `the server at ${url} answered ${status}: ${error.message}`
}

/** What a failed call tells the user: `transportDetail`, else the declared refusal's message (its tag when it has none). */
export const failureDetail = (url: string, error: unknown, notServed?: string): string =>
  transportDetail(url, error, notServed) ?? refusalMessage(error)

/** A declared refusal's message, else its tag, else the failure itself as text. */
const refusalMessage = (error: unknown): string => {
  const refusal = error as { readonly _tag?: unknown; readonly message?: unknown } | null | undefined
  return typeof refusal?.message === "string" && refusal.message !== "" ? refusal.message : String(refusal?._tag ?? error)
}
