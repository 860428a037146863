/**
 * A submission's webhook, as the access rules (`TaskAccess`) see it: a URL
 * checked before anything is submitted, refused with `WebhookRefused`, and
 * registered for the task — before it is recorded, under the id it will have
 * (given up with `abandon` when the submission then fails), or, for a task
 * the submission may join, once it is recorded. The service that delivers
 * webhooks provides `SubmitWebhooks` (`@chainjobs/server`'s `Webhooks`);
 * without it every webhook is refused as `not-configured`, so that no
 * transport takes a webhook nobody will deliver.
 *
 * @since 0.1.0
 */
import { Context, Effect, Schema } from "effect"
import type { TaskStoreError } from "./TaskError.ts"

/** Why a webhook URL was refused. */
export const RefusalReason = Schema.Literals([
  "not-configured",
  "invalid-url",
  "scheme",
  "too-long",
  "credentials",
  "private-host"
])
/** @see RefusalReason */
export type RefusalReason = typeof RefusalReason.Type

const explanations: Record<RefusalReason, string> = {
  "not-configured": "this service takes no webhooks (it has no signing secret: CHAINJOBS_WEBHOOK_SECRET)",
  "invalid-url": "it is not a URL",
  scheme: "only http: and https: URLs are accepted",
  "too-long": "it is too long",
  credentials: "it carries a user name or password",
  "private-host": "its host is loopback, private or link-local (allow it with CHAINJOBS_WEBHOOK_ALLOW_HOSTS)"
}

/** A submission named a webhook URL the service will not call; nothing was submitted. */
export class WebhookRefused extends Schema.TaggedError<WebhookRefused>("@chainjobs/tasks/WebhookRefused")("WebhookRefused", {
  /** The URL as given (cut when very long). */
  url: Schema.String,
  reason: RefusalReason
}, { httpApiStatus: 400 }) {
  override get message(): string {
    return `webhook ${JSON.stringify(this.url)} refused: ${explanations[this.reason]}`
  }
}

/** What a transport's submission needs of the webhook service. */
export interface SubmitWebhooksService {
  /** The URL to call (normalized), or why not. */
  check(url: string): Effect.Effect<URL, WebhookRefused>
  /** Registers the webhook of a task, recorded or about to be under this id. */
  register(taskId: string, url: URL): Effect.Effect<void, TaskStoreError>
  /** Gives up the webhooks registered for a task whose submission then failed: nothing is delivered for them. */
  abandon(taskId: string): Effect.Effect<void, TaskStoreError>
}

/** The webhook service submissions use; by default none: every webhook is refused as `not-configured`. */
export const SubmitWebhooks = Context.Reference<SubmitWebhooksService>("@chainjobs/tasks/SubmitWebhooks", {
  defaultValue: () => ({
    check: (url) => Effect.fail(new WebhookRefused({ url: url.slice(0, 2048), reason: "not-configured" })),
    register: () => Effect.void,
    abandon: () => Effect.void
  })
})
