/**
 * @chainjobs/tasks — supervised, observable, interruptible tasks on Effect 4.
 *
 * @since 0.1.0
 */
export * as HiddenField from "./HiddenField.ts"
export * as PayloadLimit from "./PayloadLimit.ts"
export * as PersistedSchedules from "./PersistedSchedules.ts"
export * as Principal from "./Principal.ts"
export * as Quota from "./Quota.ts"
export * as RecordOrder from "./RecordOrder.ts"
export * as Schedules from "./Schedules.ts"
export * as ScheduleStore from "./ScheduleStore.ts"
export * as StreamSlots from "./StreamSlots.ts"
export * as SubmitWebhooks from "./SubmitWebhooks.ts"
export * as Task from "./Task.ts"
export * as TaskAccess from "./TaskAccess.ts"
export * as TaskAccessError from "./TaskAccessError.ts"
export * as TaskContext from "./TaskContext.ts"
export * as TaskError from "./TaskError.ts"
export * as TaskEvent from "./TaskEvent.ts"
export * as TaskFeed from "./TaskFeed.ts"
export * as TaskHandle from "./TaskHandle.ts"
export * as TaskInterest from "./TaskInterest.ts"
export * as TaskInfo from "./TaskInfo.ts"
export * as TaskKind from "./TaskKind.ts"
export * as TaskPolicy from "./TaskPolicy.ts"
export * as TaskQuery from "./TaskQuery.ts"
export * as Tasks from "./Tasks.ts"
export * as TaskStats from "./TaskStats.ts"
export * as TasksConfig from "./TasksConfig.ts"
export * as TaskStore from "./TaskStore.ts"
/** @deprecated The supervisor's module is `Tasks` (its service is `Tasks.Tasks`); this alias goes in the next release. */
export * as TaskSupervisor from "./Tasks.ts"
