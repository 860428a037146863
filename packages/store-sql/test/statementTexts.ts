/** The SQL statements a store runs, as their spans name them, for the tests of query plans. */
import { Effect, Tracer } from "effect"

/** The statement texts of the spans `effect` makes. */
export const statementsOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const texts: Array<string> = []
    const tracer = Tracer.make({
      span(options) {
        const span = new Tracer.NativeSpan(options)
        const attribute = span.attribute.bind(span)
        span.attribute = (key, value) => {
          if (key === "db.query.text") texts.push(String(value))
          attribute(key, value)
        }
        return span
      }
    })
    yield* Effect.provideService(effect, Tracer.Tracer, tracer)
    return texts
  })
