/** Running infra/k8s/overlays/local/create-secrets.sh without a cluster, to see the Secrets it would create. */
import { execFileSync } from "node:child_process"
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseAllDocuments } from "yaml"
import { fromRoot, record } from "./repo.ts"

/**
 * Runs create-secrets.sh against a stand-in kubectl: `create --dry-run=client` goes to the real
 * kubectl (it works offline), `get` finds nothing, `apply` hands back what it was given. Returns
 * each Secret's decoded data by name.
 */
export const runCreateSecretsOffline = (): Map<string, Record<string, string>> => {
  const realKubectl = execFileSync("sh", ["-c", "command -v kubectl"], { encoding: "utf8" }).trim()
  const dir = mkdtempSync(join(tmpdir(), "workstream-kubectl-"))
  try {
    writeFileSync(
      join(dir, "kubectl"),
      `#!/bin/sh
for arg in "$@"; do
  case "$arg" in
    apply) cat; echo "---"; exit 0 ;;
    get) exit 1 ;;
    create) exec "${realKubectl}" "$@" ;;
  esac
done
exit 2
`
    )
    chmodSync(join(dir, "kubectl"), 0o755)
    const output = execFileSync("sh", [fromRoot("infra/k8s/overlays/local/create-secrets.sh")], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ""}`, KUBECONFIG: join(dir, "none") }
    })
    const secrets = new Map<string, Record<string, string>>()
    for (const document of parseAllDocuments(output)) {
      const object = document.toJS()
      if (object === null || record(object, "output").kind !== "Secret") continue
      const secret = record(object, "Secret")
      const data = record(secret.data, "Secret data")
      secrets.set(
        String(record(secret.metadata, "Secret metadata").name),
        Object.fromEntries(
          Object.entries(data).map(([key, value]) => [key, Buffer.from(String(value), "base64").toString()])
        )
      )
    }
    return secrets
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
