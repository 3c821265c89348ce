export { loadMigrations, splitStatements, classifyStatement } from './migration-files.js';
export type { Migration, MigrationStatement } from './migration-files.js';
export { runMigrations } from './migrate-runner.js';
export type { MigrateProgress, MigrateReport, Connect } from './migrate-runner.js';
export { verifySchema } from './verify-schema.js';
export type { VerifyReport, TableDrift } from './verify-schema.js';
