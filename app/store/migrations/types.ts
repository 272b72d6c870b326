/** One schema step. `version` is the user_version after it runs (steps of 10, like Signal). */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /** Plain SQL; runs inside the migrator's transaction, so it must not BEGIN/COMMIT itself. */
  readonly sql: string;
}
