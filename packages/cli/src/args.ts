/**
 * A small, strict argument parser for the `tracebuf` commands: `--name value`, `--name=value`,
 * boolean `--flag`, short aliases, and (for `record`) everything from the first positional on
 * left untouched for the script. Bad arguments throw {@link UsageError} (exit code 2).
 *
 * @packageDocumentation
 */

/** A bad command line: the CLI prints the message and the usage, and exits with 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** One option a command takes. */
export interface OptionSpec {
  /** Long name, without the dashes. */
  readonly name: string;
  /** One-letter alias (`-o`). */
  readonly short?: string;
  /** `string` takes a value; `boolean` does not. */
  readonly type: 'string' | 'boolean';
  /** One line of help. */
  readonly help: string;
  /** Shown in the help as the value's name. */
  readonly value?: string;
}

/** The parsed command line. */
export interface Parsed {
  readonly options: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

/**
 * Parses `argv` against `specs`. With `stopAtPositional`, the first positional and everything
 * after it are positionals (a script and its own arguments).
 */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[], stopAtPositional = false): Parsed {
  const options: Record<string, string | boolean | undefined> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (stopAtPositional) {
        positionals.push(...argv.slice(i));
        break;
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = specs.find((s) => `--${s.name}` === key || (s.short !== undefined && `-${s.short}` === key));
    if (spec === undefined) throw new UsageError(`unknown option: ${key}`);
    if (spec.type === 'boolean') {
      if (eq > 0) throw new UsageError(`option ${key} takes no value: ${arg}`);
      options[spec.name] = true;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`option ${key} needs a value`);
    options[spec.name] = value;
  }
  return { options, positionals };
}

/** The value of an integer option within [min, max], or `fallback`. */
export function intOption(parsed: Parsed, name: string, fallback: number, min: number, max: number): number {
  const raw = parsed.options[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer ${min}..${max}: ${name}=${String(raw)}`);
  }
  return n;
}

/** Help text of one command. */
export function helpText(usage: string, about: string, specs: readonly OptionSpec[]): string {
  const rows = specs.map((s) => {
    const flag = `${s.short !== undefined ? `-${s.short}, ` : '    '}--${s.name}${s.type === 'string' ? ` <${s.value ?? 'value'}>` : ''}`;
    return `  ${flag.padEnd(30)} ${s.help}`;
  });
  return `${usage}\n\n${about}\n\noptions:\n${rows.join('\n')}\n  ${'-h, --help'.padEnd(30)} this help\n`;
}
