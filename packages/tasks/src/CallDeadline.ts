/**
 * When the current call's client stops waiting: its gRPC deadline, as wall-clock epoch ms (what
 * Effect's default Clock reads; a test under a TestClock provides its own). The call's fiber is
 * interrupted then (grpc-js cancels the call), so a wait in it needs no timer of its own for it.
 * Work that runs apart from the call's fiber, such as a create in a statement shared with others,
 * reads it so that it ends with its caller instead of committing after the client heard
 * DEADLINE_EXCEEDED. Infinite outside a call, or when the client set no deadline.
 */
import { Context } from "effect"

export const CallDeadline = Context.Reference<number>("@workstream/tasks/CallDeadline", {
  defaultValue: () => Number.POSITIVE_INFINITY
})
