/**
 * The watch part of the `chainjobs` command line: `serve`'s flags for the
 * watchers and the balance upkeep.
 *
 * @since 0.1.0
 */

/** `serve`'s watch flags, made with `serve`'s own flag maker (flag name, variable, description). */
export const serveSettings = <F>(setting: (name: string, variable: string, description: string) => F) => ({
  watchers: setting("watchers", "CHAINJOBS_WATCHERS", "Watchers declared at start, as JSON: [{name, chain, processor, accounts}]"),
  watchPollInterval: setting("watch-poll-interval", "CHAINJOBS_WATCH_POLL_INTERVAL", "How often a watcher reads the chain head"),
  balanceRefreshEvery: setting("balance-refresh-every", "CHAINJOBS_BALANCE_REFRESH_EVERY", "How often stale cached balances are read again"),
  balanceReconcileEvery: setting(
    "balance-reconcile-every",
    "CHAINJOBS_BALANCE_RECONCILE_EVERY",
    "How often every cached balance is checked against the chain"
  )
})
