/** The service of the watch tests: the dev chain, tokens of alice and of the admin ops, and one watcher declared on the dev activity. */
import { Duration, Redacted } from "effect"
import { DevChain } from "@chainjobs/devchain"
import { testServer } from "./http.ts"

/** The account the declared watcher follows. */
export const watched = DevChain.accounts[1]!.address
/** A principal's token. */
export const alice = "alice-token"
/** An admin's token. */
export const ops = "ops-token"

/** The service, with the watcher `dev-activity` declared. */
export const watchServer = (settings: Parameters<typeof testServer>[0] = {}) =>
  testServer({
    devChain: true,
    authTokens: { alice: Redacted.make(alice), ops: Redacted.make(ops) },
    admins: ["ops"],
    watchPollInterval: Duration.millis(200),
    watchers: [{ name: "dev-activity", chain: "dev", processor: "chainjobs.watch.record", accounts: [watched], confirmations: 1, startBlock: 1 }],
    ...settings
  })
