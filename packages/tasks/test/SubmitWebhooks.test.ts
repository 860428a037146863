/**
 * Without a webhook service every webhook is refused as `not-configured`
 * (its URL cut to 2048 characters), and a refusal's message explains its
 * reason in words a caller can act on.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as SubmitWebhooks from "../src/SubmitWebhooks.ts"

describe("SubmitWebhooks", () => {
  it.effect("the default service refuses every webhook as not-configured, keeping at most 2048 characters of its URL", () =>
    Effect.gen(function*() {
      const webhooks = yield* SubmitWebhooks.SubmitWebhooks
      const short = yield* Effect.flip(webhooks.check("https://example.com/hook"))
      assert.deepStrictEqual([short._tag, short.reason, short.url], ["WebhookRefused", "not-configured", "https://example.com/hook"])
      const long = `https://example.com/${"x".repeat(5000)}`
      const cut = yield* Effect.flip(webhooks.check(long))
      assert.strictEqual(cut.url, long.slice(0, 2048))
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(webhooks.register("t1", new URL("https://example.com/hook")))))
    }))

  it("a refusal's message names the URL and explains the reason", () => {
    const messages: Record<SubmitWebhooks.RefusalReason, string> = {
      "not-configured": "this service takes no webhooks (it has no signing secret: CHAINJOBS_WEBHOOK_SECRET)",
      "invalid-url": "it is not a URL",
      scheme: "only http: and https: URLs are accepted",
      "too-long": "it is too long",
      credentials: "it carries a user name or password",
      "private-host": "its host is loopback, private or link-local (allow it with CHAINJOBS_WEBHOOK_ALLOW_HOSTS)"
    }
    for (const [reason, explanation] of Object.entries(messages)) {
      const error = new SubmitWebhooks.WebhookRefused({ url: "ftp://x/\"y\"", reason: reason as SubmitWebhooks.RefusalReason })
      assert.strictEqual(error.message, `webhook "ftp://x/\\"y\\"" refused: ${explanation}`)
    }
  })
})
