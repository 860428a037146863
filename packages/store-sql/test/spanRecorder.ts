/** The spans a client or a store makes, kept for the tests that read them (names, attributes, counts). */
import { Tracer } from "effect"

/** A tracer (provide it as `Tracer.Tracer`) keeping in `spans` every span made under it. */
export const recordingTracer = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}
