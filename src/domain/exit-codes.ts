/**
 * Exit codes of keyloft's own failures, shared by the CLI and the pipeline commands
 * (a child's exit code is passed through unchanged by `keyloft run` and `deploy fly`):
 * 0 ok, 1 usage error, 2 the server refused (its message and field are printed),
 * 3 the server cannot be reached; as a shell does, 126 a command that cannot run and
 * 127 a command that is not found.
 */
export const EXIT_USAGE = 1 as const;
export const EXIT_REFUSED = 2 as const;
export const EXIT_UNREACHABLE = 3 as const;

export const EXIT_CANNOT_EXECUTE = 126 as const;
export const EXIT_NOT_FOUND = 127 as const;

export type ExitCode = typeof EXIT_USAGE | typeof EXIT_REFUSED | typeof EXIT_UNREACHABLE | typeof EXIT_CANNOT_EXECUTE | typeof EXIT_NOT_FOUND;

/** A failure a command reports on stderr and turns into its exit code. Its message never carries a value. */
export class CommandError extends Error {
  readonly exitCode: ExitCode;
  /** For server refusals: the error code and the field the server named. */
  readonly code: string | undefined;
  readonly field: string | undefined;

  constructor(message: string, exitCode: ExitCode = EXIT_USAGE, extra: { code?: string | undefined; field?: string | null | undefined } = {}) {
    super(message);
    this.name = 'CommandError';
    this.exitCode = exitCode;
    this.code = extra.code;
    this.field = extra.field ?? undefined;
  }
}
