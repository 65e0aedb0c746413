// The image's health check: exit 0 when the service's GET /healthz answers 200 within 2 s.
// Plain JavaScript run by `node`, so the check needs no shell, curl or wget in the image.
const defaultPorts = { gateway: 8080, tasks: 8081, notifications: 8082 }
const port = process.env.HTTP_PORT ?? defaultPorts[process.env.WORKSTREAM_SERVICE ?? ""]

try {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) })
  process.exit(response.status === 200 ? 0 : 1)
} catch {
  process.exit(1)
}
