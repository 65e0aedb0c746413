/** A small Dockerfile reader: instructions with continuation lines joined, grouped into stages. */

export interface Instruction {
  readonly keyword: string
  readonly args: string
  readonly line: number
}

export interface Stage {
  readonly from: string
  readonly name: string | undefined
  readonly instructions: ReadonlyArray<Instruction>
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults: the only ones FROM may use. */
  readonly globalArgs: Readonly<Record<string, string>>
  readonly stages: ReadonlyArray<Stage>
}

const parseInstructions = (source: string): Array<Instruction> => {
  const instructions: Array<Instruction> = []
  let pending: { text: string; line: number } | undefined
  source.split("\n").forEach((raw, index) => {
    const line = raw.trim()
    if (line.startsWith("#") || (line === "" && pending === undefined)) return
    const continued = line.endsWith("\\")
    const piece = continued ? line.slice(0, -1).trim() : line
    pending =
      pending === undefined ? { text: piece, line: index + 1 } : { ...pending, text: `${pending.text} ${piece}` }
    if (continued) return
    const [keyword = "", ...rest] = pending.text.split(/\s+/)
    instructions.push({ keyword: keyword.toUpperCase(), args: rest.join(" "), line: pending.line })
    pending = undefined
  })
  return instructions
}

const substitute = (value: string, args: Readonly<Record<string, string>>): string =>
  value.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => args[name] ?? "")

export const parseDockerfile = (source: string): Dockerfile => {
  const globalArgs: Record<string, string> = {}
  const stages: Array<{ from: string; name: string | undefined; instructions: Array<Instruction> }> = []
  for (const instruction of parseInstructions(source)) {
    if (instruction.keyword === "FROM") {
      const [image = "", as, name] = instruction.args.split(/\s+/)
      stages.push({
        from: substitute(image, globalArgs),
        name: as?.toUpperCase() === "AS" ? name : undefined,
        instructions: []
      })
    } else if (stages.length === 0 && instruction.keyword === "ARG") {
      const [name = "", value = ""] = instruction.args.split("=")
      globalArgs[name] = value
    } else {
      stages.at(-1)?.instructions.push(instruction)
    }
  }
  return { globalArgs, stages }
}

/** `COPY [--flag=value...] src... dest` (shell or JSON form) split into its parts. */
export const parseCopy = (
  args: string
): { readonly flags: Readonly<Record<string, string>>; readonly sources: Array<string>; readonly dest: string } => {
  const words = (args.trim().startsWith("[") ? execForm(args) : undefined) ?? args.split(/\s+/)
  const flags: Record<string, string> = {}
  const paths: Array<string> = []
  for (const word of words) {
    const flag = /^--([a-z-]+)(?:=(.*))?$/.exec(word)
    if (flag?.[1] !== undefined) flags[flag[1]] = flag[2] ?? "true"
    else paths.push(word)
  }
  return { flags, sources: paths.slice(0, -1), dest: paths.at(-1) ?? "" }
}

/** The JSON array of an exec-form instruction (ENTRYPOINT, CMD, HEALTHCHECK ... CMD), or undefined. */
export const execForm = (args: string): Array<string> | undefined => {
  const start = args.indexOf("[")
  if (start < 0) return undefined
  const parsed: unknown = JSON.parse(args.slice(start))
  return Array.isArray(parsed) && parsed.every((item) => typeof item === "string") ? parsed : undefined
}
