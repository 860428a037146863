/**
 * The names `ClusterTasks` gives schedules and daemons, and the ids of a
 * daemon's tasks, as plain functions: a singleton's name tells its kind and
 * payload apart (two payloads of one kind are two singletons, each running);
 * a daemon's task id is a UUID v7 made at the given time whose last 32 bits
 * (eight hex digits, zeros kept) are the daemon's mark, found again by
 * `isDaemonTask` and by no other daemon.
 */
import { assert, describe, it } from "@effect/vitest"
import { ClusterTasks, TaskEntity } from "@chainjobs/cluster"
import { TaskInfo } from "@chainjobs/tasks"

/** A UUID's shape: 8-4-4-4-12 lower-case hex digits. */
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

describe("ClusterTasks' singleton names and daemon task ids", () => {
  it("a singleton's name tells what, kind and payload apart", () => {
    const names = [
      ClusterTasks.singletonNameOf("schedule", "tick", { n: 1 }),
      ClusterTasks.singletonNameOf("schedule", "tick", { n: 2 }),
      ClusterTasks.singletonNameOf("schedule", "tock", { n: 1 }),
      ClusterTasks.singletonNameOf("daemon", "tick", { n: 1 })
    ]
    assert.strictEqual(new Set(names).size, names.length)
    assert.strictEqual(names[0], `chainjobs/schedule/tick/{"n":1}`)
  })

  it("a daemon's task id is a UUID v7 of the given time ending in the daemon's mark, zeros kept", () => {
    // a name whose hash has leading zeros in hex: its mark is padded to eight digits
    let small = ""
    for (let i = 0; small === ""; i++) if (TaskEntity.hash(`daemon-${i}`) < 0x1000_0000) small = `daemon-${i}`
    const at = Date.UTC(2026, 11, 3)
    for (const name of [small, "chainjobs/daemon/gated/{}"]) {
      const id = ClusterTasks.daemonTaskId(name, at)
      assert.match(id, uuid, `${id} is a UUID`)
      assert.strictEqual(id.slice(0, 13), TaskInfo.makeId(at).slice(0, 13), "made at the given time")
      assert.strictEqual(id.slice(-8), TaskEntity.hash(name).toString(16).padStart(8, "0"))
      assert.isTrue(ClusterTasks.isDaemonTask(name, id))
      assert.isFalse(ClusterTasks.isDaemonTask(`${name}/other`, id))
    }
  })
})
