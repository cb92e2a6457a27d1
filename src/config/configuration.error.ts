/** One variable a start refuses: its name, the value as it may be shown, and why. */
export interface ConfigurationProblem {
  variable: string;
  /** JSON of the value given, "(hidden)" for secrets; absent for rules across variables. */
  shownValue?: string;
  problem: string;
}

/**
 * The settings cannot run. The message has one line per problem (read in a stack trace or
 * a test); `summary()` is the same on one line, for the single log line a refused start writes.
 */
export class ConfigurationError extends Error {
  constructor(
    readonly problems: ConfigurationProblem[],
    /** NODE_ENV as given (it may itself be a problem), so the refusal is logged in that environment's format. */
    readonly nodeEnv: unknown,
  ) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${describe(p)}`).join('\n')}`);
    this.name = 'ConfigurationError';
  }

  summary(): string {
    return `Invalid configuration: ${this.problems.map(describe).join(' | ')}`;
  }

  /** Each bad variable and what is wrong with it, for structured (JSON) logs. */
  byVariable(): Record<string, string> {
    const entries: Record<string, string> = {};
    for (const { variable, problem } of this.problems) {
      entries[variable] = entries[variable] ? `${entries[variable]}; ${problem}` : problem;
    }
    return entries;
  }
}

function describe({ variable, shownValue, problem }: ConfigurationProblem): string {
  return shownValue === undefined ? `${variable}: ${problem}` : `${variable}=${shownValue}: ${problem}`;
}
