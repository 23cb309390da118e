import { sql, type Kysely } from 'kysely';

/** Runs each statement of a migration in turn (better-sqlite3 prepares one statement at a time). */
export async function runStatements(db: Kysely<unknown>, statements: readonly string[]): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
