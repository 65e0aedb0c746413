/**
 * `pnpm build [service...]`: bundles the services (all three by default) into
 * packages/<service>/dist, as `pnpm start` does before it runs them and the image build does.
 */
import * as Bundle from "./Bundle.ts"

const { SERVICES } = Bundle
const isService = (name: string): name is Bundle.Service => (SERVICES as ReadonlyArray<string>).includes(name)

const asked = process.argv.slice(2)
const unknown = asked.filter((name) => !isService(name))
if (unknown.length > 0) {
  process.stderr.write(`unknown service ${unknown.join(", ")}: choose from ${SERVICES.join(", ")}\n`)
  process.exitCode = 2
} else {
  const services = asked.length === 0 ? SERVICES : asked.filter(isService)
  await Bundle.bundle(services)
  process.stdout.write(`bundled ${services.map(Bundle.mainOf).join(", ")}\n`)
}
