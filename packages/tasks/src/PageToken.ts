/**
 * Opaque keyset page tokens: base64url of the last id seen. Opaque so clients do not build
 * them, and so the encoding can change without breaking anyone.
 */

import { TaskId } from "@workstream/domain"
import { Result, Schema } from "effect"
import { InvalidPageToken } from "./errors.ts"

const PREFIX = "v1:"
const decodeId = Schema.decodeUnknownResult(TaskId)

export const encode = (lastId: TaskId): string => Buffer.from(PREFIX + lastId, "utf8").toString("base64url")

export const decode = (token: string): Result.Result<TaskId, InvalidPageToken> => {
  const text = Buffer.from(token, "base64url").toString("utf8")
  if (!text.startsWith(PREFIX)) return Result.fail(new InvalidPageToken())
  return Result.mapError(decodeId(text.slice(PREFIX.length)), () => new InvalidPageToken())
}
