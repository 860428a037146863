/**
 * @chainjobs/rpc — remote task handles over effect/rpc: the RPC group of the
 * supervisor, its server layers (HTTP and WebSocket) and a typed client.
 *
 * @since 0.1.0
 */
export * as Auth from "./Auth.ts"
export * as RemoteTaskHandle from "./RemoteTaskHandle.ts"
export * as TaskRpcClient from "./TaskRpcClient.ts"
export * as TaskRpcError from "./TaskRpcError.ts"
export * as TaskRpcs from "./TaskRpcs.ts"
export * as TaskRpcServer from "./TaskRpcServer.ts"
export * as WatchRpcClient from "./WatchRpcClient.ts"
export * as WatchRpcs from "./WatchRpcs.ts"
export * as WatchRpcServer from "./WatchRpcServer.ts"
