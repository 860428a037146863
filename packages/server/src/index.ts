/**
 * @chainjobs/server — the runnable service: configuration, the REST facade
 * with OpenAPI and docs, the live dashboard, probes and metrics, the CLI.
 *
 * @since 0.1.0
 */
export * as Access from "./Access.ts"
export * as Cli from "./Cli.ts"
export * as Dashboard from "./Dashboard.ts"
export * as DemoTasks from "./DemoTasks.ts"
export * as DevActivity from "./DevActivity.ts"
export * as Metrics from "./Metrics.ts"
export * as RestApi from "./RestApi.ts"
export * as RestServer from "./RestServer.ts"
export * as Server from "./Server.ts"
export * as ServerConfig from "./ServerConfig.ts"
export * as TaskLog from "./TaskLog.ts"
export * as Telemetry from "./Telemetry.ts"
export * as WatchCli from "./WatchCli.ts"
export * as WatchService from "./WatchService.ts"
export * as ServiceDatabase from "./ServiceDatabase.ts"
export * as Webhooks from "./Webhooks.ts"
export * as WebhookSignature from "./WebhookSignature.ts"
export * as WebhookStore from "./WebhookStore.ts"
export * as WebhookTarget from "./WebhookTarget.ts"
