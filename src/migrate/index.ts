export { loadMigrations, splitStatements, classifyStatement } from './migration-files.js';
export type { Migration, MigrationStatement } from './migration-files.js';
export { runMigrations, endpointOf } from './migrate-runner.js';
export { migrationStatus, planMigrations } from './migration-status.js';
export type { MigrateStatus, MigrationState, MissingMigration, PlannedStatement } from './migration-status.js';
export type { MigrateProgress, MigrateReport, Connect } from './migrate-runner.js';
export { verifySchema } from './verify-schema.js';
export type { VerifyReport, TableDrift } from './verify-schema.js';
