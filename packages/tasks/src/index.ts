/**
 * @chainjobs/tasks — supervised, observable, interruptible tasks on Effect 4.
 *
 * @since 0.1.0
 */
export * as Task from "./Task.ts"
export * as TaskContext from "./TaskContext.ts"
export * as TaskError from "./TaskError.ts"
export * as TaskHandle from "./TaskHandle.ts"
export * as TaskInfo from "./TaskInfo.ts"
export * as TaskPolicy from "./TaskPolicy.ts"
export * as TaskQuery from "./TaskQuery.ts"
export * as TaskStore from "./TaskStore.ts"
export * as TaskSupervisor from "./TaskSupervisor.ts"
