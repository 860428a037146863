/**
 * `@chainjobs/client`: the chainjobs REST API for programs that do not use
 * Effect (web backends, scripts, browser pages), and the check of the
 * service's signed webhooks.
 *
 * @since 0.1.0
 */

/** The REST client: submit, status, result, a polling wait, events, interrupt, list, delete. */
export * from "./ChainjobsClient.ts"
/** A client's kind map from the kinds' definitions (a type only). */
export type * from "./KindTypes.ts"
/** The check of a webhook delivery's signature. */
export * from "./WebhookVerify.ts"
