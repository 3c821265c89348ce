export { SchemaHistory } from './schema-history.js';
export { ddlEffect } from './ddl-targets.js';
export type { DdlEffect } from './ddl-targets.js';
