/**
 * @chainjobs/cluster — chainjobs on several runner processes, with effect/cluster as the engine.
 *
 * @since 0.1.0
 */
export * as ClusterFeed from "./ClusterFeed.ts"
export * as ClusterTasks from "./ClusterTasks.ts"
export * as LocalAdmission from "./LocalAdmission.ts"
export * as LocalPlacement from "./LocalPlacement.ts"
export * as NotAdmitted from "./NotAdmitted.ts"
export * as OpenShards from "./OpenShards.ts"
export * as Runner from "./Runner.ts"
export * as RunnerConfig from "./RunnerConfig.ts"
export * as TaskEntity from "./TaskEntity.ts"
export * as ShardLockReleases from "./ShardLockReleases.ts"
export * as SqlQuota from "./SqlQuota.ts"
