/**
 * @chainjobs/tasks — supervised, observable, interruptible tasks on Effect 4.
 *
 * @since 0.1.0
 */
export * as TaskError from "./TaskError.ts"
export * as TaskInfo from "./TaskInfo.ts"
export * as TaskQuery from "./TaskQuery.ts"
export * as TaskStore from "./TaskStore.ts"
