/**
 * The create path's baseline: a bare Node `http` server that decodes the same JSON body, checks it,
 * and runs the same transaction as the tasks service (task row + outbox row + pg_notify) with a
 * plain `pg` pool of the same size (10). Env: DATABASE_URL, PORT.
 */
import { createServer } from "node:http"
import pg from "pg"
import { createdEvent, newTask, uuidv7 } from "./lib.ts"

const PRIORITIES = new Set(["LOW", "MEDIUM", "HIGH", "URGENT"])
// Connections kept open between runs, as the service's pool keeps them.
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10, idleTimeoutMillis: 0 })

const create = async (title: string, priority: string) => {
  const task = newTask(title, priority)
  const eventId = uuidv7()
  const client = await pool.connect()
  try {
    await client.query("BEGIN")
    await client.query(
      `INSERT INTO tasks (id, title, description, status, priority, assignee, due_at, created_at, updated_at, completed_at, version)
       VALUES ($1, $2, NULL, $3, $4, NULL, NULL, $5, $6, NULL, $7)`,
      [task.id, task.title, task.status, task.priority, task.created_at, task.updated_at, task.version]
    )
    await client.query(
      "INSERT INTO outbox (event_id, event_type, task_id, body, traceparent, tracestate) VALUES ($1, $2, $3, $4, $5, NULL)",
      [eventId, "workstream.task.created.v1", task.id, createdEvent(task, eventId), null]
    )
    await client.query("SELECT pg_notify('workstream_outbox', '')")
    await client.query("COMMIT")
    return task
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined)
    throw error
  } finally {
    client.release()
  }
}

const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/readyz") {
    res.writeHead(200).end("ok")
    return
  }
  if (req.method !== "POST" || req.url !== "/api/v1/tasks") {
    res.writeHead(404).end()
    return
  }
  const chunks: Array<Buffer> = []
  req.on("data", (c: Buffer) => chunks.push(c))
  req.on("end", () => {
    let body: unknown
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
    } catch {
      res.writeHead(400).end()
      return
    }
    const { title, priority = "MEDIUM" } = (body ?? {}) as { title?: unknown; priority?: unknown }
    if (typeof title !== "string" || title.trim().length === 0 || [...title.trim()].length > 200) {
      res.writeHead(400).end()
      return
    }
    if (typeof priority !== "string" || !PRIORITIES.has(priority)) {
      res.writeHead(400).end()
      return
    }
    create(title.trim(), priority).then(
      (task) => {
        const json = JSON.stringify(task)
        res.writeHead(201, { "content-type": "application/json", location: `/api/v1/tasks/${task.id}` }).end(json)
      },
      () => res.writeHead(503).end()
    )
  })
})

server.keepAliveTimeout = 60_000
server.listen(Number(process.env.PORT), "127.0.0.1")
const shutdown = () => {
  server.close(() => void pool.end().then(() => process.exit(0)))
  server.closeAllConnections()
}
process.once("SIGTERM", shutdown)
process.once("SIGINT", shutdown)
