/** Counting the SQL transactions a store's writes cost, for the tests of batching. */
import { Tracer } from "effect"

/** A tracer (provide it as `Tracer.Tracer`) counting in `count` the SQL transactions begun under it. */
export const transactionCounter = () => {
  const counter = {
    count: 0,
    tracer: Tracer.make({
      span(options) {
        if (options.name === "sql.transaction") counter.count++
        return Tracer.nativeTracer.span(options)
      }
    })
  }
  return counter
}
